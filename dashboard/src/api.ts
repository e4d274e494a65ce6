/** Typed access to the AutoPEFT REST API from the browser. */

import type { StudyPage, StudySummary, StudyView, TrialFiles, TrialPage } from '../../scheduler/types.js';
import type { StudyReport } from '../../scheduler/report.js';
import type { UploadSummary } from '../../workers/data/stored.js';
import type { StoppedWorker } from '../../workers/job-types.js';
import { authHeaders, tokenRefused } from './auth.js';

/** A failed API call. `status` is 0 when the server could not be reached at all. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** The dotted path of the field the API named (an invalid spec), if it named one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** True when the problem is the connection or the server, not the request. */
  get isOutage(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}

/** The `field` of an error body `{error: {field}}` (an invalid spec names the offending field). */
function fieldOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const error = (body as Record<string, unknown>)['error'];
  const field = typeof error === 'object' && error !== null ? (error as Record<string, unknown>)['field'] : undefined;
  return typeof field === 'string' ? field : undefined;
}

/** The message of an error body, whatever its exact shape (`{error}`, `{error: {message}}`, `{message}`). */
function messageOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  const error = record['error'];
  if (typeof error === 'string') return error;
  if (typeof error === 'object' && error !== null) {
    const nested = (error as Record<string, unknown>)['message'];
    if (typeof nested === 'string') return nested;
  }
  const message = record['message'];
  return typeof message === 'string' ? message : undefined;
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await request(path, { headers: { accept: 'application/json' }, cache: 'no-store', ...(signal ? { signal } : {}) });
  try {
    return (await response.json()) as T;
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError('The API sent a response that is not JSON.', response.status);
  }
}

/** A successful response, or an ApiError carrying the server's message (or the outage). */
async function request(path: string, init: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), ...authHeaders() } });
  } catch (error) {
    if (init.signal?.aborted) throw error;
    throw new ApiError('The AutoPEFT API cannot be reached.', 0);
  }
  if (!response.ok) {
    let detail: string | undefined;
    let field: string | undefined;
    try {
      const body: unknown = await response.json();
      detail = messageOf(body);
      field = fieldOf(body);
    } catch {
      detail = undefined;
    }
    const message = detail ?? `The API answered ${response.status} ${response.statusText}`.trim();
    if (response.status === 401) tokenRefused(message);
    throw new ApiError(message, response.status, field);
  }
  return response;
}

/** Most study pages the list reads (200 studies each). */
const MAX_STUDY_PAGES = 25;

/** `GET /api/studies`, page after page: one summary per study, newest first. */
export async function fetchStudies(signal?: AbortSignal): Promise<StudySummary[]> {
  const studies: StudySummary[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_STUDY_PAGES; page++) {
    const body = await getJson<StudyPage>(`/api/studies?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, signal);
    studies.push(...body.studies);
    cursor = body.nextCursor;
    if (!cursor) break;
  }
  return studies;
}

/** `GET /api/studies/:id`: a study, its summary and its first `trials` trials. */
export function fetchStudy(id: string, trials: number, signal?: AbortSignal): Promise<StudyView> {
  return getJson<StudyView>(`${studyPath(id)}?trials=${trials}`, signal);
}

/** `GET /api/studies/:id/trials?after=&limit=`: the trials that changed after a cursor (at most `limit`, the API allows 1,000). */
export function fetchTrialsAfter(id: string, after: number, limit: number, signal?: AbortSignal): Promise<TrialPage> {
  return getJson<TrialPage>(`${studyPath(id)}/trials?after=${after}&limit=${limit}`, signal);
}

/** `GET /api/health`: whether the API is up, and the workers that stopped taking trials. */
export function fetchHealth(signal?: AbortSignal): Promise<{ ok: boolean; stoppedWorkers: StoppedWorker[] }> {
  return getJson('/api/health', signal);
}

/** `POST /api/studies/:id/cancel`: asks the scheduler to stop the study. */
export async function cancelStudy(id: string): Promise<void> {
  await request(`${studyPath(id)}/cancel`, { method: 'POST' });
}

/** `DELETE /api/studies/:id`: deletes a finished study with its trials and trained adapters. */
export async function deleteStudy(id: string): Promise<void> {
  await request(studyPath(id), { method: 'DELETE' });
}

/** The URL of the best configuration of a study (`GET /api/studies/:id/best`). */
export function bestConfigUrl(id: string): string {
  return `${studyPath(id)}/best`;
}

/**
 * Downloads an API file with the token (a plain link cannot send the Authorization header):
 * fetches it and saves it under the server's file name.
 */
export async function downloadFile(path: string): Promise<void> {
  const response = await request(path, { cache: 'no-store' });
  const name = /filename="?([^";]+)"?/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? path.split('/').pop() ?? 'download';
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** `GET /api/studies/:id/trials/:n/files`: what a trial offers for download. */
export function fetchTrialFiles(id: string, trial: number, signal?: AbortSignal): Promise<TrialFiles> {
  return getJson<TrialFiles>(`${studyPath(id)}/trials/${trial}/files`, signal);
}

/** What `GET /api/catalog` lists: built-in datasets, base models and search presets. */
export interface Catalog {
  datasets: Record<string, { kind: string; description: string; defaultMetric: string; metrics: string[] }>;
  baseModels: Record<string, { description: string }>;
  /** Each preset's description and the `presetOptions` it understands. */
  presets: Record<string, { description: string; options?: string[] }>;
}

/** `GET /api/studies/:id/report`: the study's report (409 until its re-evaluation has finished). */
export function fetchReport(id: string, signal?: AbortSignal): Promise<StudyReport> {
  return getJson<StudyReport>(`${studyPath(id)}/report`, signal);
}

/** The URL of the report as Markdown or CSV (`GET /api/studies/:id/report.md`, `.csv`). */
export function reportUrl(id: string, format: 'md' | 'csv'): string {
  return `${studyPath(id)}/report.${format}`;
}

/** `GET /api/catalog`. */
export function fetchCatalog(signal?: AbortSignal): Promise<Catalog> {
  return getJson<Catalog>('/api/catalog', signal);
}

/** `GET /api/datasets`: the uploaded datasets, oldest first. */
export function fetchUploads(signal?: AbortSignal): Promise<UploadSummary[]> {
  return getJson<UploadSummary[]>('/api/datasets', signal);
}

/**
 * `POST /api/datasets`: uploads a file as the raw body, its Content-Type from its name
 * (`.tsv`, `.jsonl`/`.ndjson`, else CSV). The API reads and checks all of it.
 */
export async function uploadDataset(file: File, name: string): Promise<UploadSummary> {
  const lower = file.name.toLowerCase();
  const type = lower.endsWith('.tsv') ? 'text/tab-separated-values' : lower.endsWith('.jsonl') || lower.endsWith('.ndjson') ? 'application/x-ndjson' : 'text/csv';
  const response = await request(`/api/datasets?name=${encodeURIComponent(name)}`, { method: 'POST', headers: { 'content-type': type }, body: file });
  return (await response.json()) as UploadSummary;
}

/** `POST /api/studies`: submits a spec; an invalid one is an ApiError whose `field` names the field. */
export async function submitStudy(spec: object): Promise<{ id: string; state: string }> {
  const response = await request('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
  return (await response.json()) as { id: string; state: string };
}

/** `GET /api/whoami`: the token's name and scope. */
export function fetchWhoami(signal?: AbortSignal): Promise<{ name: string; scope: string }> {
  return getJson('/api/whoami', signal);
}

/** The dashboard route of a study. */
export function studyHash(id: string): string {
  return `#/studies/${encodeURIComponent(id)}`;
}

function studyPath(id: string): string {
  return `/api/studies/${encodeURIComponent(id)}`;
}
