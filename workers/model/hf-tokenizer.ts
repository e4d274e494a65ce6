/**
 * Hugging Face tokenizers for BERT and RoBERTa, reimplemented: WordPiece with BERT's basic
 * pre-tokenisation (clean-up, CJK spacing, optional lower-casing and accent stripping,
 * punctuation splitting) and byte-level BPE (GPT-2/RoBERTa). Read from `tokenizer.json`, or
 * `vocab.txt` (WordPiece) / `vocab.json` + `merges.txt` (BPE). Special tokens written inside the
 * text (e.g. a literal "[SEP]") are tokenised as text, not recognised.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidTrialError } from '../errors.js';
import type { EncodedBatch, SpecialTokens, TextTokenizer } from './encoding.js';
import { encodeWithSpecials } from './encoding.js';
import type { HfModelConfig } from './hf-config.js';

/** Settings of BERT's pre-tokenisation. */
export interface WordPieceOptions {
  lowercase: boolean;
  /** Strip accents (NFD, drop combining marks); BERT does it whenever it lowercases. */
  stripAccents: boolean;
  unkToken: string;
  /** @defaultValue '##' */
  continuingPrefix: string;
  /** Words longer than this become the unknown token. @defaultValue 100 */
  maxCharsPerWord: number;
}

const isControl = (ch: string): boolean => ch !== '\t' && ch !== '\n' && ch !== '\r' && /[\p{Cc}\p{Cf}]/u.test(ch);
const isWhitespace = (ch: string): boolean => /\s/u.test(ch);
const isPunctuation = (ch: string): boolean => {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /\p{P}/u.test(ch);
};
const isCjk = (cp: number): boolean =>
  (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
  (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
  (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);

/**
 * BERT's basic tokenizer, lazily: the words and punctuation marks WordPiece then splits, in
 * order. Control characters are dropped, whitespace separates, each CJK character is a word of
 * its own, words are lower-cased and stripped of accents when asked, and punctuation marks are
 * split off. Lazy because a sequence keeps only its first few hundred tokens, and long texts
 * (an email, an article) would otherwise be cleaned and split in full for nothing.
 */
export function* bertWords(text: string, lowercase: boolean, stripAccents: boolean): Generator<string> {
  let token = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
    const cjk = isCjk(cp);
    if (cjk || isWhitespace(ch)) {
      if (token) yield* splitPunctuation(token, lowercase, stripAccents);
      token = '';
      if (cjk) yield* splitPunctuation(ch, lowercase, stripAccents);
    } else {
      token += ch;
    }
  }
  if (token) yield* splitPunctuation(token, lowercase, stripAccents);
}

/** One whitespace-separated token, normalised, with its punctuation marks split off. */
function* splitPunctuation(token: string, lowercase: boolean, stripAccents: boolean): Generator<string> {
  let normalised = lowercase ? token.toLowerCase() : token;
  if (stripAccents) normalised = normalised.normalize('NFD').replace(/\p{Mn}/gu, '');
  let current = '';
  for (const ch of normalised) {
    if (isPunctuation(ch)) {
      if (current) yield current;
      yield ch;
      current = '';
    } else {
      current += ch;
    }
  }
  if (current) yield current;
}

/** All of {@link bertWords} as an array. */
export function bertPreTokenize(text: string, lowercase: boolean, stripAccents: boolean): string[] {
  return [...bertWords(text, lowercase, stripAccents)];
}

/** A WordPiece tokenizer (BERT). */
export class WordPieceTokenizer implements TextTokenizer {
  readonly padId: number;
  private readonly cache = new Map<string, number[]>();
  private readonly unkId: number;
  private readonly special: SpecialTokens;

  constructor(
    private readonly vocab: ReadonlyMap<string, number>,
    private readonly options: WordPieceOptions,
    special: { cls: string; sep: string; pad: string },
  ) {
    const id = (token: string): number => {
      const found = vocab.get(token);
      if (found === undefined) throw new InvalidTrialError(`tokenizer vocabulary lacks the special token "${token}"`);
      return found;
    };
    this.unkId = id(options.unkToken);
    this.padId = id(special.pad);
    this.special = { cls: id(special.cls), sep: id(special.sep), pad: this.padId, pairSeparator: [id(special.sep)], secondTypeId: 1 };
  }

  /** Ids of `text` without special tokens (at most `limit`). */
  tokenize(text: string, limit = Number.POSITIVE_INFINITY): number[] {
    const ids: number[] = [];
    for (const word of bertWords(text, this.options.lowercase, this.options.stripAccents)) {
      if (ids.length >= limit) break;
      ids.push(...this.wordPieces(word));
    }
    return ids.slice(0, limit);
  }

  /** Greedy longest-match-first pieces of one word (remembered for the commonest words). */
  private wordPieces(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const pieces = this.splitWord(word);
    if (this.cache.size < 50_000) this.cache.set(word, pieces);
    return pieces;
  }

  private splitWord(word: string): number[] {
    const chars = [...word];
    if (chars.length > this.options.maxCharsPerWord) return [this.unkId];
    const pieces: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: number | undefined;
      while (start < end) {
        const piece = (start > 0 ? this.options.continuingPrefix : '') + chars.slice(start, end).join('');
        found = this.vocab.get(piece);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) return [this.unkId];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }

  encodeBatch(texts: readonly string[], seqLength: number, pairs?: readonly (string | undefined)[]): EncodedBatch {
    return encodeWithSpecials((text, limit) => this.tokenize(text, limit), this.special, texts, seqLength, pairs);
  }
}

/** GPT-2's byte-to-printable-character table: every byte maps to one visible code point. */
function byteToUnicode(): string[] {
  const table: string[] = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table[b] = String.fromCodePoint(printable ? b : 256 + extra++);
  }
  return table;
}

// GPT-2's pre-tokenisation: contractions, letter runs, digit runs, other runs, spaces.
const BYTE_LEVEL_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Byte-level BPE (RoBERTa). */
export class ByteLevelBpeTokenizer implements TextTokenizer {
  readonly padId: number;
  private readonly ranks = new Map<string, number>();
  private readonly bytes = byteToUnicode();
  private readonly cache = new Map<string, number[]>();
  private readonly special: SpecialTokens;
  private readonly unkId?: number;

  constructor(
    private readonly vocab: ReadonlyMap<string, number>,
    merges: readonly string[],
    special: { cls: string; sep: string; pad: string; unk?: string },
    private readonly addPrefixSpace = false,
  ) {
    merges.forEach((merge, rank) => this.ranks.set(merge, rank));
    const id = (token: string): number => {
      const found = vocab.get(token);
      if (found === undefined) throw new InvalidTrialError(`tokenizer vocabulary lacks the special token "${token}"`);
      return found;
    };
    this.padId = id(special.pad);
    this.unkId = special.unk === undefined ? undefined : vocab.get(special.unk);
    const sep = id(special.sep);
    this.special = { cls: id(special.cls), sep, pad: this.padId, pairSeparator: [sep, sep], secondTypeId: 0 };
  }

  /** Ids of `text` without special tokens (at most `limit`). */
  tokenize(text: string, limit = Number.POSITIVE_INFINITY): number[] {
    const ids: number[] = [];
    const source = this.addPrefixSpace && !text.startsWith(' ') ? ` ${text}` : text;
    for (const match of source.matchAll(BYTE_LEVEL_SPLIT)) {
      if (ids.length >= limit) break;
      ids.push(...this.wordIds(match[0]));
    }
    return ids.slice(0, limit);
  }

  private wordIds(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    let symbols = [...new TextEncoder().encode(word)].map((b) => this.bytes[b]!);
    for (;;) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i < symbols.length - 1; i++) {
        const rank = this.ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      // Merge every occurrence of the best pair, left to right.
      const first = symbols[best]!;
      const second = symbols[best + 1]!;
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i < symbols.length - 1 && symbols[i] === first && symbols[i + 1] === second) {
          merged.push(first + second);
          i++;
        } else {
          merged.push(symbols[i]!);
        }
      }
      symbols = merged;
    }
    const ids: number[] = [];
    for (const symbol of symbols) {
      const id = this.vocab.get(symbol) ?? this.unkId;
      if (id !== undefined) ids.push(id);
    }
    if (this.cache.size < 50_000) this.cache.set(word, ids);
    return ids;
  }

  encodeBatch(texts: readonly string[], seqLength: number, pairs?: readonly (string | undefined)[]): EncodedBatch {
    return encodeWithSpecials((text, limit) => this.tokenize(text, limit), this.special, texts, seqLength, pairs);
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InvalidTrialError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

type Json = Record<string, unknown>;
const asObject = (value: unknown): Json => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {});

/** Finds a pre/normaliser component of a type, looking inside `Sequence`s. */
function findComponent(component: unknown, type: string): Json | undefined {
  const c = asObject(component);
  if (c.type === type) return c;
  for (const key of ['normalizers', 'pretokenizers']) {
    const list = c[key];
    if (Array.isArray(list)) {
      for (const item of list) {
        const found = findComponent(item, type);
        if (found) return found;
      }
    }
  }
  return undefined;
}

const DEFAULT_SPECIALS = {
  bert: { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', unk: '[UNK]' },
  roberta: { cls: '<s>', sep: '</s>', pad: '<pad>', unk: '<unk>' },
} as const;

/** Loads the tokenizer of a model directory, preferring `tokenizer.json`. */
export function loadHfTokenizer(dir: string, config: HfModelConfig): TextTokenizer {
  const defaults = DEFAULT_SPECIALS[config.modelType];
  const tokenizerConfigFile = path.join(dir, 'tokenizer_config.json');
  const tokenizerConfig = existsSync(tokenizerConfigFile) ? asObject(readJson(tokenizerConfigFile)) : {};
  const tokenName = (key: string, fallback: string): string => {
    const value = tokenizerConfig[key];
    if (typeof value === 'string') return value;
    const content = asObject(value).content;
    return typeof content === 'string' ? content : fallback;
  };
  const specials = {
    cls: tokenName(config.modelType === 'roberta' ? 'bos_token' : 'cls_token', defaults.cls),
    sep: tokenName(config.modelType === 'roberta' ? 'eos_token' : 'sep_token', defaults.sep),
    pad: tokenName('pad_token', defaults.pad),
    unk: tokenName('unk_token', defaults.unk),
  };
  const jsonFile = path.join(dir, 'tokenizer.json');
  if (existsSync(jsonFile)) {
    const tokenizer = asObject(readJson(jsonFile));
    const model = asObject(tokenizer.model);
    const vocabObject = asObject(model.vocab);
    const vocab = new Map<string, number>(Object.entries(vocabObject).filter((e): e is [string, number] => typeof e[1] === 'number'));
    if (model.type === 'WordPiece') {
      const normalizer = findComponent(tokenizer.normalizer, 'BertNormalizer');
      const lowercase = normalizer?.lowercase !== false && normalizer !== undefined;
      const strip = normalizer?.strip_accents;
      return new WordPieceTokenizer(
        vocab,
        {
          lowercase,
          stripAccents: typeof strip === 'boolean' ? strip : lowercase,
          unkToken: typeof model.unk_token === 'string' ? model.unk_token : specials.unk,
          continuingPrefix: typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '##',
          maxCharsPerWord: typeof model.max_input_chars_per_word === 'number' ? model.max_input_chars_per_word : 100,
        },
        specials,
      );
    }
    if (model.type === 'BPE') {
      const merges = Array.isArray(model.merges)
        ? model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : String(m)))
        : [];
      const byteLevel = findComponent(tokenizer.pre_tokenizer, 'ByteLevel');
      return new ByteLevelBpeTokenizer(vocab, merges, specials, byteLevel?.add_prefix_space === true);
    }
    throw new InvalidTrialError(`${jsonFile}: tokenizer model type ${JSON.stringify(model.type)} is not supported (WordPiece or BPE)`);
  }
  const vocabTxt = path.join(dir, 'vocab.txt');
  if (existsSync(vocabTxt)) {
    const lines = readFileSync(vocabTxt, 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const vocab = new Map<string, number>();
    lines.forEach((line, i) => {
      const token = line.replace(/\r$/, '');
      if (!vocab.has(token)) vocab.set(token, i);
    });
    const lower = tokenizerConfig.do_lower_case;
    const lowercase = typeof lower === 'boolean' ? lower : true;
    const strip = tokenizerConfig.strip_accents;
    return new WordPieceTokenizer(
      vocab,
      { lowercase, stripAccents: typeof strip === 'boolean' ? strip : lowercase, unkToken: specials.unk, continuingPrefix: '##', maxCharsPerWord: 100 },
      specials,
    );
  }
  const vocabJson = path.join(dir, 'vocab.json');
  const mergesTxt = path.join(dir, 'merges.txt');
  if (existsSync(vocabJson) && existsSync(mergesTxt)) {
    const vocab = new Map<string, number>(Object.entries(asObject(readJson(vocabJson))).filter((e): e is [string, number] => typeof e[1] === 'number'));
    const merges = readFileSync(mergesTxt, 'utf8').split('\n').filter((line) => line !== '' && !line.startsWith('#version'));
    return new ByteLevelBpeTokenizer(vocab, merges, specials, tokenizerConfig.add_prefix_space === true);
  }
  throw new InvalidTrialError(`${dir} has no tokenizer: expected tokenizer.json, vocab.txt, or vocab.json with merges.txt`);
}
