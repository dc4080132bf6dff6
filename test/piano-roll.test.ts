// Piano rolls for the RNN-RBM tutorial: midiread's frames on the real
// Nottingham tunes, the two datasets' splits, the midiwrite round trip, the
// training pieces, the figure, and one clear DataError per bad input.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unzipSync, zipSync } from "fflate";
import { parseMidi } from "midi-file";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_JSB_JSON,
  DEFAULT_NOTTINGHAM_ZIP,
  frameCount,
  loadJsbChorales,
  loadNottingham,
  pianoRollPng,
  readMidiRoll,
  rollChunks,
  writeMidiRoll,
} from "../runtime/node/piano-roll.ts";
import { dataErrorOf } from "./setup/data-error.ts";

const nottingham = loadNottingham(DEFAULT_NOTTINGHAM_ZIP);
const tmp = mkdtempSync(join(tmpdir(), "piano-roll-"));

/** The pitches sounding in frame f. */
const sounding = (roll: Float32Array, f: number): number[] =>
  Array.from(roll.subarray(f * 88, (f + 1) * 88)).flatMap((v, c) => (v ? [c + 21] : []));

/** A roll from frame → pitches. */
function rollOf(frames: number, notes: Record<number, number[]>): Float32Array {
  const roll = new Float32Array(frames * 88);
  for (const [f, pitches] of Object.entries(notes)) for (const p of pitches) roll[Number(f) * 88 + p - 21] = 1;
  return roll;
}

const thrown = dataErrorOf;

describe("Nottingham", () => {
  it("has the 630/157/154 tunes of SOURCES.md, without macOS leftovers", () => {
    expect([nottingham.train.length, nottingham.valid.length, nottingham.test.length]).toEqual([630, 157, 154]);
    for (const s of ["train", "valid", "test"] as const) {
      expect(nottingham.names[s].every((m) => m.startsWith(`Nottingham 2/${s}/`) && m.endsWith(".mid"))).toBe(true);
    }
    expect(nottingham.names.train).toContain("Nottingham 2/train/ashover_simple_chords_12.mid");
  });

  it("reads a tune as midiread: 88 columns, ceil(end / 0.3) frames, its own notes in 21..108", () => {
    const member = nottingham.names.train[0]!;
    const roll = nottingham.train[0]!;
    const midi = parseMidi(unzipSync(readFileSync(DEFAULT_NOTTINGHAM_ZIP), { filter: (f) => f.name === member })[member]!);
    expect(midi.header.ticksPerBeat).toBe(480);
    // Every Nottingham file keeps the default 120 beats a minute: a tick is
    // 1/960 s, so a 0.3 s frame is 288 ticks.
    let lastOff = 0;
    let firstOn = Infinity;
    const pitches = new Set<number>();
    for (const track of midi.tracks) {
      let tick = 0;
      for (const e of track) {
        tick += e.deltaTime;
        if (e.type === "setTempo") expect(e.microsecondsPerBeat).toBe(500000);
        if (e.type === "noteOn") (pitches.add(e.noteNumber), (firstOn = Math.min(firstOn, tick)));
        if (e.type === "noteOff") lastOff = Math.max(lastOff, tick);
      }
    }
    expect(roll.length % 88).toBe(0);
    expect(frameCount(roll)).toBe(Math.ceil(lastOff / 288));
    const used = new Set<number>();
    for (let f = 0; f < frameCount(roll); f++) for (const p of sounding(roll, f)) used.add(p);
    expect([...used].sort()).toEqual([...pitches].sort());
    expect(Math.min(...used)).toBeGreaterThanOrEqual(21);
    expect(Math.max(...used)).toBeLessThanOrEqual(108);
    const first = roll.findIndex((v) => v !== 0);
    expect(Math.floor(first / 88)).toBe(Math.ceil(firstOn / 288));
    expect(sounding(roll, frameCount(roll) - 1).length).toBeGreaterThan(0);
  });

  it("cuts train into 1714 pieces of at most 100 frames", () => {
    const pieces = rollChunks(nottingham.train, 100);
    const frames = nottingham.train.reduce((sum, r) => sum + frameCount(r), 0);
    expect(pieces.n).toBe(1714);
    expect((pieces.named?.length?.data as Int32Array).reduce((a, b) => a + b, 0)).toBe(frames);
  });
});

describe("JSB chorales", () => {
  const jsb = loadJsbChorales(DEFAULT_JSB_JSON);
  const json = JSON.parse(readFileSync(DEFAULT_JSB_JSON, "utf8")) as Record<"train" | "valid" | "test", number[][][]>;

  it("has 229/76/77 chorales of 13807/4602/4725 steps, one frame a step", () => {
    expect([jsb.train.length, jsb.valid.length, jsb.test.length]).toEqual([229, 76, 77]);
    const steps = (rolls: Float32Array[]): number => rolls.reduce((sum, r) => sum + frameCount(r), 0);
    expect([steps(jsb.train), steps(jsb.valid), steps(jsb.test)]).toEqual([13807, 4602, 4725]);
    const chorale = json.valid[5]!;
    chorale.forEach((step, t) => expect(sounding(jsb.valid[5]!, t)).toEqual([...new Set(step)].sort((a, b) => a - b)));
    expect(jsb.names.valid[5]).toBe("valid/5");
  });

  it("names the chorale and step of a pitch off the piano", () => {
    const file = join(tmp, "jsb-bad.json");
    writeFileSync(file, JSON.stringify({ train: [[[60]], [[60, 64], [72, 120]]], valid: [], test: [] }));
    expect(thrown(() => loadJsbChorales(file)).message).toBe(`${file}: train chorale 1 step 1: pitch 120 is not a MIDI pitch in 21..108`);
  });
});

describe("writeMidiRoll → readMidiRoll", () => {
  it("gives the same roll back, leading silence and chords included", () => {
    // Runs of several lengths, a repeated note split by one silent frame,
    // both ends of the keyboard, and a chord in the last frame.
    const roll = rollOf(40, { 2: [60, 64, 67], 3: [60, 64, 67], 4: [60], 6: [60], 7: [21, 108], 9: [108], 39: [50, 55] });
    for (let f = 10; f < 39; f++) if ((f * 7) % 5 < 2) roll[f * 88 + ((f * 13) % 88)] = 1;
    const file = join(tmp, "round-trip.mid");
    writeMidiRoll(file, roll, 40);
    const bytes = readFileSync(file);
    expect(readMidiRoll(bytes, file)).toEqual(roll);
    const midi = parseMidi(bytes);
    expect(midi.header).toMatchObject({ format: 0, numTracks: 1, ticksPerBeat: 100 });
    const ons = midi.tracks[0]!.filter((e) => e.type === "noteOn");
    expect(ons.every((e) => e.type === "noteOn" && e.velocity === 90)).toBe(true);
  });

  it("gives a Nottingham tune back", () => {
    const file = join(tmp, "tune.mid");
    const roll = nottingham.test[3]!;
    writeMidiRoll(file, roll, frameCount(roll));
    expect(readMidiRoll(readFileSync(file), file)).toEqual(roll);
  });

  it("writes only the first frames of a padded piece", () => {
    const piece = rollChunks([rollOf(30, { 0: [40], 29: [41] })], 100);
    const file = join(tmp, "piece.mid");
    writeMidiRoll(file, piece.x, 30);
    expect(frameCount(readMidiRoll(readFileSync(file), file))).toBe(30);
  });
});

describe("rollChunks", () => {
  it("cuts 250 frames into pieces of 100, 100, 50, zero past the end", () => {
    const roll = new Float32Array(250 * 88);
    for (let i = 0; i < roll.length; i++) roll[i] = (i * 7919) % 11 < 3 ? 1 : 0;
    const other = rollOf(20, { 19: [70] });
    const split = rollChunks([roll, other], 100);
    expect(split.n).toBe(4);
    expect(split.shape).toEqual([100, 88]);
    expect(split.y.length).toBe(0);
    expect(split.named?.roll?.shape).toEqual([100, 88]);
    expect(split.named?.length?.shape).toEqual([]);
    expect(Array.from(split.named!.length!.data)).toEqual([100, 100, 50, 20]);
    expect(split.named!.roll!.data).toBe(split.x);
    const piece = (k: number): Float32Array => split.x.subarray(k * 8800, (k + 1) * 8800);
    expect(piece(0)).toEqual(roll.subarray(0, 8800));
    expect(piece(1)).toEqual(roll.subarray(8800, 17600));
    expect(piece(2).subarray(0, 4400)).toEqual(roll.subarray(17600));
    expect(piece(2).subarray(4400).every((v) => v === 0)).toBe(true);
    expect(piece(3).subarray(0, 1760)).toEqual(other);
    expect(piece(3).subarray(1760).every((v) => v === 0)).toBe(true);
  });
});

describe("pianoRollPng", () => {
  it("draws time along x and pitch up the y axis, notes black on white", () => {
    const { width, height, pixels } = pianoRollPng(rollOf(3, { 0: [108], 2: [21] }), 3);
    expect([width, height]).toEqual([3, 88]);
    expect(pixels[0]).toBe(0); // frame 0, pitch 108: top left
    expect(pixels[87 * 3 + 2]).toBe(0); // frame 2, pitch 21: bottom right
    expect(Array.from(pixels).filter((v) => v === 255).length).toBe(3 * 88 - 2);
  });
});

describe("errors", () => {
  it("names a file that is not MIDI", () => {
    const file = join(tmp, "notes.mid");
    writeFileSync(file, "these are not notes\n");
    const e = thrown(() => readMidiRoll(readFileSync(file), file));
    expect(e.message).toContain(`${file}: not a MIDI file`);
    const cut = join(tmp, "cut.mid");
    writeMidiRoll(cut, rollOf(4, { 0: [60], 3: [62] }), 4);
    const bytes = readFileSync(cut);
    expect(thrown(() => readMidiRoll(bytes.subarray(0, 18), cut)).message).toContain(`${cut}: truncated MIDI file`);
  });

  it("names a zip that is not a zip, and a missing one", () => {
    const file = join(tmp, "Nottingham.zip");
    writeFileSync(file, "PK but not really a zip");
    expect(thrown(() => loadNottingham(file)).message).toContain(`${file}: not a zip archive`);
    const missing = join(tmp, "nowhere", "Nottingham.zip");
    expect(thrown(() => loadNottingham(missing)).message).toContain(`${missing}: file not found`);
    const json = join(tmp, "nowhere.json");
    expect(thrown(() => loadJsbChorales(json)).message).toContain(`${json}: file not found`);
  });

  it("names a zip member that is not MIDI, and a zip without train/", () => {
    const tuneFile = join(tmp, "a.mid");
    writeMidiRoll(tuneFile, rollOf(3, { 1: [60] }), 3);
    const tune = readFileSync(tuneFile);
    const bad = join(tmp, "bad-member.zip");
    const text = new TextEncoder().encode("hello");
    writeFileSync(bad, zipSync({ "N/train/a.mid": tune, "N/train/b.mid": text, "N/train/.DS_Store": text, "__MACOSX/N/train/._a.mid": text }));
    expect(thrown(() => loadNottingham(bad)).message).toContain(`${bad}: member 'N/train/b.mid': not a MIDI file`);
    const noTrain = join(tmp, "no-train.zip");
    writeFileSync(noTrain, zipSync({ "N/valid/a.mid": tune, "N/README": text }));
    expect(thrown(() => loadNottingham(noTrain)).message).toContain(`${noTrain}: no train/ folder`);
    const good = join(tmp, "good.zip");
    writeFileSync(good, zipSync({ "N/train/a.mid": tune, "N/train/.DS_Store": text, "__MACOSX/N/train/._a.mid": text }));
    const sets = loadNottingham(good);
    expect([sets.names.train, sets.valid.length, sets.test.length]).toEqual([["N/train/a.mid"], 0, 0]);
  });
});
