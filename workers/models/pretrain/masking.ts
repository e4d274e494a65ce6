/**
 * BERT's masked-language-model corruption: of the real (non-special) tokens, a fraction is
 * chosen as prediction targets; of those, 80% become [MASK], 10% a random token, 10% stay.
 */

/** Token ids of one batch after masking, and what the model must predict. */
export interface MaskedBatch {
  /** Corrupted input ids, row-major `[rows, seqLength]`. */
  ids: Int32Array;
  /** Flat positions (row * seqLength + column) of the prediction targets. */
  positions: number[];
  /** The original id at each target position. */
  targets: number[];
}

/** Settings of {@link maskTokens}. */
export interface MaskingOptions {
  maskId: number;
  vocabSize: number;
  /** Ids never chosen as targets nor drawn as random replacements (padding, [CLS], [SEP], ...). */
  specialIds: ReadonlySet<number>;
  /** @defaultValue 0.15 */
  targetFraction?: number;
}

/**
 * Corrupts `ids` for masked-language modelling. Pure: the same `random` stream gives the same
 * result. Every row with a real token gets at least one target, so no batch is empty.
 */
export function maskTokens(ids: Int32Array, seqLength: number, random: () => number, options: MaskingOptions): MaskedBatch {
  const fraction = options.targetFraction ?? 0.15;
  const out = Int32Array.from(ids);
  const positions: number[] = [];
  const targets: number[] = [];
  const rows = ids.length / seqLength;
  const randomToken = (): number => {
    for (;;) {
      const id = Math.floor(random() * options.vocabSize);
      if (!options.specialIds.has(id)) return id;
    }
  };
  for (let row = 0; row < rows; row++) {
    const candidates: number[] = [];
    for (let col = 0; col < seqLength; col++) {
      const position = row * seqLength + col;
      if (!options.specialIds.has(ids[position]!)) candidates.push(position);
    }
    if (candidates.length === 0) continue;
    let chosen = candidates.filter(() => random() < fraction);
    if (chosen.length === 0) chosen = [candidates[Math.floor(random() * candidates.length)]!];
    for (const position of chosen) {
      positions.push(position);
      targets.push(ids[position]!);
      const roll = random();
      if (roll < 0.8) out[position] = options.maskId;
      else if (roll < 0.9) out[position] = randomToken();
    }
  }
  return { ids: out, positions, targets };
}
