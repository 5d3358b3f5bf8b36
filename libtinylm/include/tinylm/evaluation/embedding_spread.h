// How much a model's input representation depends on its input: the share of the variance of
// the embedding's output (the network's first layer: a token embedding, or a plugin encoder such
// as byte pooling's) that varies between positions,
//   spread = sum_f Var_positions(x[:, f]) / sum_f Mean_positions(x[:, f]^2),
// over the positions of one batch of real text. A token embedding sits near 1; an encoder whose
// output has become the same vector for every input sits near 0, and the model above it can then
// learn only per-position marginals (docs/results/stlm.md, "encoder collapse"). Scale-free, so
// comparable across widths and steps.
#pragma once
#include "tinylm/model/model.h"

namespace tinylm {

// Spreads below this are reported as a collapsed embedding (the collapsed byte-pooling encoder
// measured 1e-9 to 1e-5; healthy ones 0.05 to 1).
constexpr double kCollapsedEmbeddingSpread = 1e-3;

// Runs the model's first layer on `ids` ([batch, seq]) in evaluation mode and returns the
// spread of its output rows (0 when the output is all zeros).
double EmbeddingSpread(Context& ctx, LanguageModel& model, const Tensor& ids);

}  // namespace tinylm
