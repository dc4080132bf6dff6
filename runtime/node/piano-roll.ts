// Piano rolls for the RNN-RBM tutorial (rnnrbm.py). The tutorial reads each
// MIDI tune with midi.utils.midiread(f, r=(21, 109), dt=0.3): a frames × 88
// binary matrix, frame k covering [k·dt, (k+1)·dt) seconds, trains on pieces
// of up to 100 frames of each tune, and writes its samples back with
// midiwrite. Here: the same reader and writer over MIDI bytes (midi-file),
// the two music datasets the checkout holds (../shared/data/SOURCES.md: the
// Nottingham MIDI zip, read with fflate, and czhuang's JSB chorales JSON),
// the cut into training pieces as named tensors, and the figure's picture.
import { readFileSync } from "node:fs";
import { unzipSync } from "fflate";
import { parseMidi, writeMidi } from "midi-file";
import type { MidiData, MidiEvent } from "midi-file";
import { DataError } from "../data/dataset.ts";
import type { Split } from "../data/dataset.ts";
import { writeFileAtomic } from "./atomic-write.ts";

/** midiread's r = (low, high): MIDI pitches low..high−1 are the roll's
 * columns; dt: seconds per frame. */
export interface RollOptions {
  readonly low: number;
  readonly high: number;
  readonly dt: number;
}

/** rnnrbm.py's RnnRbm(r=(21, 109), dt=0.3): the 88 keys of a piano. */
export const TUTORIAL_ROLL: RollOptions = { low: 21, high: 109, dt: 0.3 };
export const DEFAULT_NOTTINGHAM_ZIP = "../shared/data/nottingham/split-941/Nottingham.zip";
export const DEFAULT_JSB_JSON = "../shared/data/jsb-chorales/jsb-chorales-quarter.json";

/** One roll per tune, frames × (high − low) row-major, in each split's
 * name order; `names` says which tune each roll is. */
export interface RollSets {
  readonly train: Float32Array[];
  readonly valid: Float32Array[];
  readonly test: Float32Array[];
  readonly names: { readonly train: string[]; readonly valid: string[]; readonly test: string[] };
  /** One line saying where the rolls came from, for logs. */
  readonly source: string;
}

type SplitName = "train" | "valid" | "test";
const SPLITS: readonly SplitName[] = ["train", "valid", "test"];
/** The tempo a MIDI file has until it sets one (120 beats a minute). */
const DEFAULT_TEMPO = 500000;
/** midiwrite's file: 100 ticks a beat at the default tempo, so 5 ms a tick,
 * and velocity 90 on every note. */
const WRITE_DIVISION = 100;
const WRITE_VELOCITY = 90;

/** Frames in a roll of `pitches` columns. */
export function frameCount(roll: Float32Array, pitches = 88): number {
  if (roll.length % pitches !== 0) throw new RangeError(`a piano roll of ${pitches} pitches has a multiple of ${pitches} values, found ${roll.length}`);
  return roll.length / pitches;
}

/** midiread: every note that is switched on and then off becomes 1s in its
 * pitch's column over frames ceil(start/dt) .. ceil(end/dt) − 1; the roll
 * has ceil(last end/dt) frames. Note-offs pair as midiread pairs them: an
 * off closes the latest note of its pitch (any channel, tracks read in file
 * order) if that one is still on; notes left on are dropped.
 *
 * One deliberate difference: midiread divides floats, so a note exactly on
 * a frame boundary (start = k·dt) lands on frame k or k+1 by rounding noise,
 * and reading midiwrite's own output moves about a quarter of the
 * boundaries by a frame. Times here are exact fractions (ticks × tempo, dt
 * as the decimal it is written as), so boundaries land on frame k and a
 * written roll reads back unchanged. Tempo changes on any track apply from
 * their tick on (midiread agrees wherever they all sit at tick 0, as in
 * every Nottingham file). */
export function readMidiRoll(bytes: Uint8Array, name: string, opts: RollOptions = TUTORIAL_ROLL): Float32Array {
  const width = checkOptions(opts);
  const midi = parse(bytes, name);
  const div = midi.header.ticksPerBeat;
  if (div === undefined || div <= 0) throw new DataError(`${name}: SMPTE (frames per second) timing is not supported; expected ticks per beat`);
  const uAt = tempoMap(midi, name);

  // A note's times as integer µs·ticks over `div` (seconds = u / (1e6·div)).
  const pitch: number[] = [];
  const start: bigint[] = [];
  const end: (bigint | null)[] = [];
  const latest = new Int32Array(128).fill(-1);
  midi.tracks.forEach((track, t) => {
    let tick = 0;
    for (const e of track) {
      tick += e.deltaTime;
      if (e.type === "noteOn") {
        latest[e.noteNumber] = pitch.length;
        pitch.push(e.noteNumber);
        start.push(uAt(tick, t));
        end.push(null);
      } else if (e.type === "noteOff") {
        const i = latest[e.noteNumber]!;
        if (i >= 0 && end[i] === null) end[i] = uAt(tick, t);
      }
    }
  });

  const [p, q] = decimalFraction(opts.dt);
  // frame(u) = ceil(u / (1e6·div) / (p/q)) = ceil(u·q / (1e6·div·p))
  const den = 1_000_000n * BigInt(div) * p;
  const frame = (u: bigint): number => Number((u * q + den - 1n) / den);
  let last = -1n;
  let complete = 0;
  for (let i = 0; i < pitch.length; i++) {
    const e = end[i];
    if (e === null || e === undefined) continue;
    complete++;
    if (e > last) last = e;
    const k = pitch[i]!;
    if (k < opts.low || k >= opts.high) {
      const seconds = Number(start[i]!) / 1e6 / div;
      throw new DataError(`${name}: note ${k} at ${seconds.toFixed(3)} s is outside the piano roll's pitches ${opts.low}..${opts.high - 1}`);
    }
  }
  if (complete === 0) throw new DataError(`${name}: no complete note (none is switched on and then off), so there is no piano roll`);

  const frames = frame(last);
  // A corrupt delta time can put a note days in; refuse a roll over 1 GiB.
  if (frames * width > 2 ** 28) throw new DataError(`${name}: a note ends ${(Number(last) / 1e6 / div).toFixed(0)} s in, too long for a piano roll (corrupt MIDI file?)`);
  const roll = new Float32Array(frames * width);
  for (let i = 0; i < pitch.length; i++) {
    const e = end[i];
    if (e === null || e === undefined) continue;
    const col = pitch[i]! - opts.low;
    for (let f = frame(start[i]!), stop = frame(e); f < stop; f++) roll[f * width + col] = 1;
  }
  return roll;
}

/** The Nottingham tunes of a zip holding folders train/, valid/ and test/
 * of MIDI files (under one top folder or not). macOS leftovers (__MACOSX/,
 * .DS_Store and other dot files) are skipped, as is anything outside those
 * folders; every other member of them must be MIDI. Tunes are sorted by
 * name, so the order does not depend on the tool that made the zip. A
 * missing valid/ or test/ gives an empty split (the full-1037 zip has no
 * test/); a missing train/ is an error. */
export function loadNottingham(zipFile: string, opts: RollOptions = TUTORIAL_ROLL): RollSets {
  const what = "the Nottingham MIDI zip (folders train/, valid/, test/ of .mid files)";
  const bytes = readInput(zipFile, what);
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes, { filter: (f) => splitOf(f.name) !== undefined });
  } catch (e) {
    throw new DataError(`${zipFile}: not a zip archive (${message(e)}); expected ${what}`);
  }
  const names: Record<SplitName, string[]> = { train: [], valid: [], test: [] };
  for (const member of Object.keys(members)) names[splitOf(member)!].push(member);
  if (names.train.length === 0) {
    throw new DataError(`${zipFile}: no train/ folder of MIDI files in the zip; expected ${what}`);
  }
  const rolls: Record<SplitName, Float32Array[]> = { train: [], valid: [], test: [] };
  for (const s of SPLITS) {
    names[s].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    rolls[s] = names[s].map((m) => readMidiRoll(members[m]!, `${zipFile}: member '${m}'`, opts));
  }
  const counts = SPLITS.map((s) => names[s].length).join("/");
  return { ...rolls, names, source: `nottingham: ${zipFile}, ${counts} tunes, dt ${opts.dt} s, pitches ${opts.low}..${opts.high - 1}` };
}

/** The split folder a zip member belongs to, or undefined for members to
 * skip: folders, macOS metadata, files outside train/ valid/ test/. */
function splitOf(member: string): SplitName | undefined {
  if (member.endsWith("/") || member.startsWith("__MACOSX/")) return undefined;
  const parts = member.split("/");
  if (parts.length < 2 || parts[parts.length - 1]!.startsWith(".")) return undefined;
  const folder = parts[parts.length - 2]!;
  return (SPLITS as readonly string[]).includes(folder) ? (folder as SplitName) : undefined;
}

/** czhuang's JSB chorales JSON: { train, valid, test }, each a list of
 * chorales, each a list of quarter-note steps, each a list of the MIDI
 * pitches sounding then (empty for a rest). One frame per step, so
 * `opts.dt` does not apply; `low` and `high` give the columns. */
export function loadJsbChorales(jsonFile: string, opts: RollOptions = TUTORIAL_ROLL): RollSets {
  const width = checkOptions(opts);
  const what = "the JSB chorales JSON ({ train, valid, test }: chorales of steps of MIDI pitches)";
  const text = new TextDecoder().decode(readInput(jsonFile, what));
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new DataError(`${jsonFile}: not JSON (${message(e)}); expected ${what}`);
  }
  if (typeof data !== "object" || data === null || !Array.isArray((data as Record<string, unknown>).train)) {
    throw new DataError(`${jsonFile}: no "train" list of chorales; expected ${what}`);
  }
  const record = data as Record<string, unknown>;
  const rolls: Record<SplitName, Float32Array[]> = { train: [], valid: [], test: [] };
  const names: Record<SplitName, string[]> = { train: [], valid: [], test: [] };
  for (const s of SPLITS) {
    const chorales = record[s] ?? [];
    if (!Array.isArray(chorales)) throw new DataError(`${jsonFile}: "${s}" is not a list of chorales; expected ${what}`);
    chorales.forEach((steps: unknown, c) => {
      const where = `${jsonFile}: ${s} chorale ${c}`;
      if (!Array.isArray(steps)) throw new DataError(`${where} is not a list of steps; expected ${what}`);
      const roll = new Float32Array(steps.length * width);
      steps.forEach((step: unknown, t) => {
        if (!Array.isArray(step)) throw new DataError(`${where} step ${t} is not a list of MIDI pitches`);
        for (const k of step) {
          if (typeof k !== "number" || !Number.isInteger(k) || k < opts.low || k >= opts.high) {
            throw new DataError(`${where} step ${t}: pitch ${JSON.stringify(k)} is not a MIDI pitch in ${opts.low}..${opts.high - 1}`);
          }
          roll[t * width + k - opts.low] = 1;
        }
      });
      rolls[s].push(roll);
      names[s].push(`${s}/${c}`);
    });
  }
  const counts = SPLITS.map((s) => rolls[s].length).join("/");
  return { ...rolls, names, source: `jsb-chorales: ${jsonFile}, ${counts} chorales, one frame a quarter note, pitches ${opts.low}..${opts.high - 1}` };
}

/** rnnrbm.py's training pieces: each roll cut at frames 0, chunk, 2·chunk…
 * (`sequence[i:i + batch_size]`), one piece per example, in roll order (the
 * trainer shuffles). Named tensors: `roll` [chunk, pitches] f32, zero past
 * the piece's end, and `length` [] i32, the piece's frames; x is `roll`,
 * and there are no labels. */
export function rollChunks(rolls: readonly Float32Array[], chunk = 100, pitches = 88): Split {
  if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`the piece length must be a positive integer, got ${chunk}`);
  const frames = rolls.map((r) => frameCount(r, pitches));
  const n = frames.reduce((sum, f) => sum + Math.ceil(f / chunk), 0);
  const size = chunk * pitches;
  const data = new Float32Array(n * size);
  const length = new Int32Array(n);
  let k = 0;
  rolls.forEach((roll, r) => {
    for (let i = 0; i < frames[r]!; i += chunk, k++) {
      const len = Math.min(chunk, frames[r]! - i);
      data.set(roll.subarray(i * pitches, (i + len) * pitches), k * size);
      length[k] = len;
    }
  });
  return {
    x: data,
    y: new Int32Array(0),
    n,
    shape: [chunk, pitches],
    yShape: [0],
    named: { roll: { data, shape: [chunk, pitches] }, length: { data: length, shape: [] } },
  };
}

/** midiwrite: one track, 100 ticks a beat at the default tempo (stated in
 * the file), program 0; a note spans each run of consecutive nonzero frames
 * of a pitch, velocity 90, note-offs of a frame before the next frame's
 * note-ons. Trailing silent frames leave no trace, as in midiwrite. The
 * first `frames` frames of `roll` are written (a padded piece may be
 * longer); the file is replaced atomically. */
export function writeMidiRoll(file: string, roll: Float32Array, frames: number, opts: RollOptions = TUTORIAL_ROLL): void {
  const width = checkOptions(opts);
  if (!Number.isInteger(frames) || frames < 0 || frames * width > roll.length) {
    throw new RangeError(`${file}: cannot write ${frames} frames of a roll of ${roll.length / width} frames`);
  }
  // midiwrite's int(dt * 200): dt in 5 ms ticks. Only whole ticks keep the
  // frames where they were, so other dt are refused rather than drifted.
  const perFrame = Math.round(opts.dt * 200);
  if (perFrame < 1 || Math.abs(opts.dt * 200 - perFrame) > 1e-9) throw new RangeError(`${file}: dt = ${opts.dt} s is not a whole number of 5 ms MIDI ticks`);
  const on = (f: number, c: number): boolean => f >= 0 && f < frames && roll[f * width + c] !== 0;
  const events: MidiEvent[] = [
    { deltaTime: 0, meta: true, type: "setTempo", microsecondsPerBeat: DEFAULT_TEMPO },
    { deltaTime: 0, type: "programChange", channel: 0, programNumber: 0 },
  ];
  let delta = 0;
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < width; c++) {
      if (on(f, c) && !on(f - 1, c)) {
        events.push({ deltaTime: delta, type: "noteOn", channel: 0, noteNumber: c + opts.low, velocity: WRITE_VELOCITY });
        delta = 0;
      }
    }
    delta += perFrame;
    for (let c = 0; c < width; c++) {
      if (on(f, c) && !on(f + 1, c)) {
        events.push({ deltaTime: delta, type: "noteOff", channel: 0, noteNumber: c + opts.low, velocity: 0 });
        delta = 0;
      }
    }
  }
  events.push({ deltaTime: 0, meta: true, type: "endOfTrack" });
  const midi: MidiData = { header: { format: 0, numTracks: 1, ticksPerBeat: WRITE_DIVISION }, tracks: [events] };
  writeFileAtomic(file, Uint8Array.from(writeMidi(midi)));
}

/** The tutorial's figure, imshow(roll.T, origin='lower', cmap=gray_r): time
 * along x (one pixel a frame), pitch along y with the highest at the top;
 * a sounding note is black on white. Grayscale bytes for image/png.ts. */
export function pianoRollPng(roll: Float32Array, frames: number, pitches = 88): { width: number; height: number; pixels: Uint8Array } {
  if (!Number.isInteger(frames) || frames < 1 || frames * pitches > roll.length) {
    throw new RangeError(`a picture needs 1 to ${Math.floor(roll.length / pitches)} frames of this roll, got ${frames}`);
  }
  const pixels = new Uint8Array(frames * pitches);
  for (let row = 0; row < pitches; row++) {
    const col = pitches - 1 - row;
    for (let f = 0; f < frames; f++) {
      const v = Math.min(1, Math.max(0, roll[f * pitches + col]!));
      pixels[row * frames + f] = Math.round(255 * (1 - v));
    }
  }
  return { width: frames, height: pitches, pixels };
}

function checkOptions(opts: RollOptions): number {
  const { low, high, dt } = opts;
  if (!Number.isInteger(low) || !Number.isInteger(high) || low < 0 || high > 128 || low >= high) {
    throw new RangeError(`piano roll pitches must be low..high−1 within MIDI's 0..127, got r = (${low}, ${high})`);
  }
  if (!(dt > 0 && Number.isFinite(dt))) throw new RangeError(`dt must be a positive number of seconds, got ${dt}`);
  return high - low;
}

/** dt as the fraction p/q its shortest decimal spells (0.3 → 3/10). */
function decimalFraction(x: number): [bigint, bigint] {
  for (let places = 0; places <= 15; places++) {
    const q = 10 ** places;
    const p = Math.round(x * q);
    if (p / q === x) return [BigInt(p), BigInt(q)];
  }
  throw new RangeError(`dt = ${x} s has more than 15 decimal places`);
}

function parse(bytes: Uint8Array, name: string): MidiData {
  let midi: MidiData;
  try {
    midi = parseMidi(bytes);
  } catch (e) {
    throw new DataError(`${name}: not a MIDI file (${message(e)})`);
  }
  // midi-file reads past a truncated end as undefined bytes, so a cut file
  // parses to fewer or shorter tracks, or to NaN fields, rather than throwing.
  if (midi.tracks.length !== midi.header.numTracks) {
    throw new DataError(`${name}: truncated MIDI file (its header announces ${midi.header.numTracks} tracks, it holds ${midi.tracks.length})`);
  }
  midi.tracks.forEach((track, t) => {
    if (track[track.length - 1]?.type !== "endOfTrack") throw new DataError(`${name}: truncated MIDI file (track ${t} does not end with an End of Track event)`);
    track.forEach((e, i) => {
      const note = e.type === "noteOn" || e.type === "noteOff" ? e.noteNumber : 0;
      const tempo = e.type === "setTempo" ? e.microsecondsPerBeat : 1;
      if (!Number.isInteger(e.deltaTime) || e.deltaTime < 0 || !Number.isInteger(note) || note < 0 || note > 127 || !Number.isInteger(tempo) || tempo < 1) {
        throw new DataError(`${name}: corrupt MIDI file (track ${t} event ${i}, a ${e.type}, has invalid fields)`);
      }
    });
  });
  return midi;
}

/** Tick → µs·ticks since the start (seconds × 1e6 × ticks per beat), with
 * the tempo changes of every track in tick order (the later of two at the
 * same tick wins, as midiread's sequential reading has it). */
function tempoMap(midi: MidiData, name: string): (tick: number, track: number) => bigint {
  const changes: { tick: number; tempo: number }[] = [];
  for (const track of midi.tracks) {
    let tick = 0;
    for (const e of track) {
      tick += e.deltaTime;
      if (e.type === "setTempo") changes.push({ tick, tempo: e.microsecondsPerBeat });
    }
  }
  changes.sort((a, b) => a.tick - b.tick);
  const ticks = [0];
  const us = [0n];
  const tempos = [DEFAULT_TEMPO];
  for (const c of changes) {
    const j = ticks.length - 1;
    ticks.push(c.tick);
    us.push(us[j]! + BigInt(tempos[j]!) * BigInt(c.tick - ticks[j]!));
    tempos.push(c.tempo);
  }
  return (tick, track) => {
    if (!Number.isSafeInteger(tick)) throw new DataError(`${name}: track ${track} runs past ${Number.MAX_SAFE_INTEGER} ticks`);
    let lo = 0;
    let hi = ticks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ticks[mid]! <= tick) lo = mid;
      else hi = mid - 1;
    }
    return us[lo]! + BigInt(tempos[lo]!) * BigInt(tick - ticks[lo]!);
  };
}

function readInput(file: string, what: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = typeof e === "object" && e !== null && "code" in e ? e.code : undefined;
    if (code === "ENOENT") throw new DataError(`${file}: file not found (expected ${what})`);
    if (code === "EISDIR") throw new DataError(`${file}: a folder, not a file (expected ${what})`);
    throw new DataError(`${file}: could not read it (${message(e)}); expected ${what}`);
  }
}

/** midi-file throws strings, fflate and JSON Errors. */
function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
