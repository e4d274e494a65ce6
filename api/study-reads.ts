/**
 * The answers of the study read routes (`GET /api/studies`, `/api/studies/:id`,
 * `/api/studies/:id/trials`) as JSON texts, built once per version of the data and then served
 * from a {@link VersionedCache}. Fifty dashboards watching one study ask for the same answers;
 * each request costs one small Redis read (the versions) instead of parsing and serialising a
 * page of records. Trial records pass through as the text Redis holds, never parsed.
 */
import { summaryOf } from '../scheduler/store.js';
import type { StudyStore } from '../scheduler/store.js';
import type { StudyRecord } from '../scheduler/types.js';
import { VersionedCache } from './versioned-cache.js';

/**
 * A read answer: its JSON text and, when it was built from a known version of the data, a weak
 * entity tag naming that version (so a client can revalidate with If-None-Match and get a 304).
 */
export interface ReadAnswer {
  text: string;
  etag?: string;
}

/** The entity tag of an answer built from `version` of the data (undefined when unknown). */
function etagOf(version: string | undefined): string | undefined {
  return version === undefined ? undefined : `W/"${version}"`;
}

/** Builds and caches the read answers of one API process. */
export class StudyReads {
  /** Answers being built, by key and version: concurrent misses share one build. */
  private readonly building = new Map<string, Promise<ReadAnswer | undefined>>();

  constructor(
    private readonly store: StudyStore,
    private readonly cache = new VersionedCache(),
  ) {}

  /** `GET /api/studies`: a page of study summaries (a StudyPage). */
  async list(limit: number, cursor?: string): Promise<ReadAnswer> {
    // While nothing at all was written, the page is as it was; else each study's line is
    // checked against its own version, so one busy study does not rebuild the other 49 lines.
    const listKey = `list:${limit}:${cursor ?? ''}`;
    const listVersion = await this.store.listVersion();
    const cachedPage = this.cache.get(listKey, listVersion);
    if (cachedPage) return { text: cachedPage, etag: etagOf(`l${listVersion}`)! };
    return (await this.once(listKey, listVersion, () => this.buildList(listKey, listVersion, limit, cursor)))!;
  }

  private async buildList(listKey: string, listVersion: string, limit: number, cursor: string | undefined): Promise<ReadAnswer> {
    const { ids, nextCursor } = await this.store.studyPageIds(limit, cursor);
    const versions = await this.store.studyVersions(ids);
    const texts: (string | undefined)[] = ids.map((id, i) => (versions[i] === undefined ? undefined : this.cache.get(`summary:${id}`, versions[i]!)));
    const missing = ids.filter((_id, i) => texts[i] === undefined);
    const summaries = await this.store.summariesOf(missing);
    missing.forEach((id, k) => {
      const summary = summaries[k];
      if (!summary) return;
      const i = ids.indexOf(id);
      texts[i] = JSON.stringify(summary);
      if (versions[i] !== undefined) this.cache.set(`summary:${id}`, versions[i]!, texts[i]!);
    });
    const studies = texts.filter((text): text is string => text !== undefined).join(',');
    const page = `{"studies":[${studies}]${nextCursor ? `,"nextCursor":${JSON.stringify(nextCursor)}` : ''}}`;
    this.cache.set(listKey, listVersion, page);
    return { text: page, etag: etagOf(`l${listVersion}`)! };
  }

  /** `GET /api/studies/:id`: the study, its summary and its first `limit` trials (a StudyView), or undefined. */
  async view(id: string, limit: number): Promise<ReadAnswer | undefined> {
    const key = `view:${id}:${limit}`;
    // The version is read before the data: an answer is never cached under a newer version than its data.
    const [version] = await this.store.studyVersions([id]);
    const cached = version === undefined ? undefined : this.cache.get(key, version);
    if (cached) return answer(cached, version);
    return this.once(key, version, () => this.buildView(key, version, id, limit));
  }

  private async buildView(key: string, version: string | undefined, id: string, limit: number): Promise<ReadAnswer | undefined> {
    const [raw, counts, page] = await Promise.all([this.store.rawStudy(id), this.store.getCounts(id), this.store.rawTrialsChangedAfter(id, 0, limit)]);
    if (raw === undefined) return undefined;
    const study = JSON.parse(raw) as StudyRecord;
    const byNumber = page.numbers.map((number, i) => ({ number, json: page.json[i]! })).sort((a, b) => a.number - b.number);
    const text =
      `${raw.slice(0, raw.lastIndexOf('}'))},"summary":${JSON.stringify(summaryOf(study, counts))}` +
      `,"trials":[${byNumber.map((t) => t.json).join(',')}],"trialsCursor":${page.cursor},"trialsComplete":${!page.hasMore}` +
      `${counts.bestTrial !== undefined ? `,"bestTrial":${counts.bestTrial}` : ''}}`;
    if (version !== undefined) this.cache.set(key, version, text);
    return answer(text, version);
  }

  /** `GET /api/studies/:id/trials?after=&limit=`: the trials changed after a cursor (a TrialPage), or undefined. */
  async trialsAfter(id: string, after: number, limit: number): Promise<ReadAnswer | undefined> {
    const key = `trials:${id}:${after}:${limit}`;
    const [version] = await this.store.studyVersions([id]);
    const cached = version === undefined ? undefined : this.cache.get(key, version);
    if (cached) return answer(cached, version);
    return this.once(key, version, () => this.buildTrialsAfter(key, version, id, after, limit));
  }

  private async buildTrialsAfter(key: string, version: string | undefined, id: string, after: number, limit: number): Promise<ReadAnswer | undefined> {
    // Without a version the study is gone or was stored before summaries: ask for its record.
    if (version === undefined && (await this.store.rawStudy(id)) === undefined) return undefined;
    const page = await this.store.rawTrialsChangedAfter(id, after, limit);
    const text = `{"trials":[${page.json.join(',')}],"cursor":${page.cursor},"hasMore":${page.hasMore}}`;
    if (version !== undefined) this.cache.set(key, version, text);
    return answer(text, version);
  }

  /** Runs `build` once for concurrent requests of the same key at the same known version. */
  private once(key: string, version: string | undefined, build: () => Promise<ReadAnswer | undefined>): Promise<ReadAnswer | undefined> {
    if (version === undefined) return build();
    const slot = `${key}@${version}`;
    const pending = this.building.get(slot);
    if (pending) return pending;
    const promise = build().finally(() => this.building.delete(slot));
    this.building.set(slot, promise);
    return promise;
  }
}

function answer(text: string, version: string | undefined): ReadAnswer {
  const etag = etagOf(version);
  return etag === undefined ? { text } : { text, etag };
}
