// Checks of what training reads: phase losses (E014), the parameters that
// losses and phases name (E015), labels and probabilities of the right dtype
// (E016, E017), and the metric early stopping watches (E018).

import { choiceHelp } from "../suggest.ts";
import { KIND_NAME, refAt, type SpecCheck } from "./context.ts";

export const unknownLoss: SpecCheck = {
  code: "E014",
  title: "unknown loss",
  run(ls, ctx) {
    const losses = Object.keys(ls.spec.losses);
    return ctx.refs
      .filter((r) => r.role === "loss" && !(r.name in ls.spec.losses))
      .map((r) => {
        return ctx.diag("E014", refAt(r), `phase loss '${r.name}' is not defined under \`losses:\``, { help: choiceHelp(r.name, losses, "losses") });
      });
  },
};

export const notAParam: SpecCheck = {
  code: "E015",
  title: "not a parameter",
  run(ls, ctx) {
    const params = Object.keys(ls.spec.params);
    return ctx.refs
      .filter((r) => r.role === "param" && !(r.name in ls.spec.params))
      .map((r) => {
        const d = ctx.scope.get(r.name);
        const msg = d ? `'${r.name}' is ${KIND_NAME[d.kind]}, not a parameter (${r.field})` : `unknown parameter '${r.name}' (${r.field})`;
        return ctx.diag("E015", refAt(r), msg, { help: choiceHelp(r.name, params, "parameters") });
      });
  },
};

export const notAState: SpecCheck = {
  code: "E028",
  title: "update of something that is not a state tensor",
  run(ls, ctx) {
    const states = Object.keys(ls.spec.state ?? {});
    return ctx.refs
      .filter((r) => r.role === "state" && !(r.name in (ls.spec.state ?? {})))
      .map((r) => {
        const d = ctx.scope.get(r.name);
        const msg = d ? `'${r.name}' is ${KIND_NAME[d.kind]}: only state tensors are ${r.field.includes(".record.") ? "recorded" : "updated by `updates`"}` : `unknown state tensor '${r.name}' in ${r.field}`;
        return ctx.diag("E028", { path: r.path, key: true }, msg, {
          help: states.length ? choiceHelp(r.name, states, "state tensors") : "declare it under a top-level `state:` section (shape and init, as a parameter)",
        });
      });
  },
};

export const labelsNotInt: SpecCheck = {
  code: "E016",
  title: "labels are not integers",
  run(_ls, ctx) {
    return ctx.refs
      .filter((r) => r.role === "labels" && ctx.dtypeOf(r.name) === "float")
      .map((r) => {
        const d = ctx.scope.get(r.name);
        const why = d?.kind === "input" ? `input '${r.name}' has dtype f32` : `'${r.name}' is a float tensor`;
        return ctx.diag("E016", refAt(r), `${r.field} must be integer class labels, but ${why}`, {
          help: d?.kind === "input" ? "declare the labels input with `dtype: i32` (and `classes: N`)" : "labels are the i32 class indices of the dataset, e.g. the input `y`",
        });
      });
  },
};

export const intAsProbs: SpecCheck = {
  code: "E017",
  title: "integer tensor used as probabilities",
  run(ls, ctx) {
    return ctx.refs
      .filter((r) => r.role === "probs" && ctx.dtypeOf(r.name) === "int")
      .map((r) => {
        const inp = ls.spec.data.inputs[r.name];
        const depth = inp?.classes ?? "N";
        const msg = `${r.field} must be a float tensor, but '${r.name}' holds integer labels`;
        if (r.path[r.path.length - 2] === "cross_entropy" && r.path[r.path.length - 1] === "targets") {
          // Integer class labels want the categorical cross-entropy, not a
          // one-hot fed to the binary (per-unit) cross-entropy.
          const term = ls.spec.losses[String(r.path[1])]?.cross_entropy;
          const probs = term?.probs ?? "p_y_given_x";
          return ctx.diag("E017", refAt(r), msg, {
            help: `\`cross_entropy\` is the binary cross-entropy of 0/1 targets; for integer class labels use the categorical cross-entropy \`nll: { probs: ${probs}, labels: ${r.name} }\` (probs: a softmax over the classes)`,
          });
        }
        return ctx.diag("E017", refAt(r), msg, {
          help: `for a distribution over classes define a graph entry \`${r.name}_onehot: one_hot(${r.name}, ${depth})\`; labels go in \`labels:\``,
        });
      });
  },
};

export const monitorNotMetric: SpecCheck = {
  code: "E018",
  title: "early stopping monitor is not a metric",
  run(ls, ctx) {
    const metrics = Object.keys(ls.spec.metrics ?? {});
    return ctx.refs
      .filter((r) => r.role === "metric" && !metrics.includes(r.name))
      .map((r) => {
        const help = metrics.length === 0 ? "add a `metrics:` section, e.g. `error: { zero_one: { probs: p_y_given_x, labels: y } }`" : choiceHelp(r.name, metrics, "metrics");
        const what = r.name in ls.spec.losses ? ` ('${r.name}' is a loss; early stopping watches a validation metric)` : "";
        return ctx.diag("E018", refAt(r), `early stopping monitors '${r.name}', which is not a metric${what}`, { help });
      });
  },
};
