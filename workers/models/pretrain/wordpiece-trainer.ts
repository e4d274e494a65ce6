/**
 * Learns a WordPiece vocabulary from word counts. Like Hugging Face's WordPiece trainer, it
 * grows the vocabulary by byte-pair-style merges of the most frequent adjacent pieces, writing
 * pieces that continue a word with the `##` prefix, so the result is read by the standard
 * greedy longest-match-first WordPiece tokenizer.
 */

/** Options of {@link trainWordPieceVocab}. */
export interface WordPieceTrainingOptions {
  /** Size of the vocabulary, special tokens included. */
  vocabSize: number;
  /** Tokens placed first, in this order (e.g. [PAD], [UNK], [CLS], [SEP], [MASK]). */
  specialTokens: readonly string[];
  /** Words seen fewer times than this do not take part in merges. @defaultValue 2 */
  minFrequency?: number;
  /** Characters kept in the alphabet at most (the most frequent first). @defaultValue 1000 */
  maxAlphabet?: number;
}

const PREFIX = '##';

/** Key of an adjacent pair of symbols; the separator never occurs inside a symbol. */
const pairKey = (a: number, b: number): string => `${a} ${b}`;

/**
 * Builds the vocabulary: special tokens, then every kept character (alone and with `##`), then
 * merged pieces in the order they were learned. Deterministic: ties break by piece text.
 */
export function trainWordPieceVocab(wordCounts: ReadonlyMap<string, number>, options: WordPieceTrainingOptions): string[] {
  const minFrequency = options.minFrequency ?? 2;
  const maxAlphabet = options.maxAlphabet ?? 1000;

  // The alphabet: characters by frequency, capped; rarer ones become [UNK] at tokenisation.
  const charCounts = new Map<string, number>();
  for (const [word, count] of wordCounts) for (const ch of word) charCounts.set(ch, (charCounts.get(ch) ?? 0) + count);
  const alphabet = [...charCounts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, maxAlphabet)
    .map(([ch]) => ch)
    .sort();
  const vocab: string[] = [...options.specialTokens];
  const symbolIds = new Map<string, number>();
  const symbols: string[] = [];
  const addSymbol = (text: string): number => {
    const known = symbolIds.get(text);
    if (known !== undefined) return known;
    symbols.push(text);
    symbolIds.set(text, symbols.length - 1);
    if (!vocab.includes(text)) vocab.push(text);
    return symbols.length - 1;
  };
  for (const ch of alphabet) addSymbol(ch);
  for (const ch of alphabet) addSymbol(PREFIX + ch);

  // Each word as a sequence of symbol ids: first piece plain, the rest `##`-prefixed.
  const words: { pieces: number[]; count: number }[] = [];
  const sortedWords = [...wordCounts.entries()].filter(([, c]) => c >= minFrequency).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  for (const [word, count] of sortedWords) {
    const chars = [...word];
    if (chars.some((ch) => !symbolIds.has(ch))) continue;
    words.push({ pieces: chars.map((ch, i) => symbolIds.get(i === 0 ? ch : PREFIX + ch)!), count });
  }

  // Pair counts, and for each pair the words it occurs in, updated incrementally per merge.
  const pairCounts = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const addPairs = (wordIndex: number, sign: 1 | -1): void => {
    const { pieces, count } = words[wordIndex]!;
    for (let i = 0; i + 1 < pieces.length; i++) {
      const key = pairKey(pieces[i]!, pieces[i + 1]!);
      const total = (pairCounts.get(key) ?? 0) + sign * count;
      if (total > 0) pairCounts.set(key, total);
      else pairCounts.delete(key);
      if (sign === 1) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(wordIndex);
      }
    }
  };
  words.forEach((_, i) => addPairs(i, 1));

  const mergedText = (a: number, b: number): string => symbols[a]! + symbols[b]!.slice(PREFIX.length);
  while (vocab.length < options.vocabSize) {
    let bestKey: string | undefined;
    let bestCount = 0;
    let bestText = '';
    for (const [key, count] of pairCounts) {
      if (count < Math.max(1, minFrequency) || count < bestCount) continue;
      const [a, b] = key.split(' ').map(Number) as [number, number];
      const text = mergedText(a, b);
      if (count > bestCount || text < bestText) {
        bestKey = key;
        bestCount = count;
        bestText = text;
      }
    }
    if (!bestKey) break;
    const [a, b] = bestKey.split(' ').map(Number) as [number, number];
    const merged = addSymbol(bestText);
    for (const wordIndex of pairWords.get(bestKey) ?? []) {
      const word = words[wordIndex]!;
      addPairs(wordIndex, -1);
      const next: number[] = [];
      for (let i = 0; i < word.pieces.length; i++) {
        if (i + 1 < word.pieces.length && word.pieces[i] === a && word.pieces[i + 1] === b) {
          next.push(merged);
          i++;
        } else {
          next.push(word.pieces[i]!);
        }
      }
      word.pieces = next;
      addPairs(wordIndex, 1);
    }
    pairCounts.delete(bestKey);
    pairWords.delete(bestKey);
  }
  return vocab.slice(0, options.vocabSize);
}
