/**
 * The backend's own store (SQLite, `node:sqlite`): its posts, and what it learned of each
 * upload from directdrop's outcome events. Each event is recorded in one transaction with its
 * id, so a redelivery changes nothing; events arrive in any order, and the newest outcome
 * wins, except that a deletion is final.
 */
import { DatabaseSync } from 'node:sqlite';
import { randomUUID } from 'node:crypto';
import type { UploadOutcomeEvent } from '@directdrop/receiver';
import type { User } from './users.js';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS posts (
    post_id TEXT PRIMARY KEY,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    title TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS received_events (
    event_id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    upload_id TEXT NOT NULL,
    received_at TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    issuer TEXT,              -- the uploader when it was a signed-in user; NULL otherwise
    subject TEXT,
    post_id TEXT REFERENCES posts (post_id),  -- only once the claim checked out
    claim_problem TEXT,       -- why the metadata's postId was not honoured
    status TEXT NOT NULL,
    reason TEXT,
    outputs TEXT,             -- JSON
    issued_at TEXT NOT NULL,
    outcome_at TEXT NOT NULL  -- the event time of the outcome recorded
  );
  CREATE INDEX IF NOT EXISTS uploads_by_user ON uploads (issuer, subject, issued_at);
`;

/** Why an upload's `postId` claim was not honoured. */
export type ClaimProblem = 'not-a-signed-in-user' | 'unknown-post' | 'not-your-post';

export interface MyUpload {
  uploadId: string;
  status: string;
  reason?: string;
  postId?: string;
  claimProblem?: ClaimProblem;
  outputs?: Array<{ name: string; width: number; height: number; size: number; blobPath: string }>;
  issuedAt: string;
}

interface UploadRow {
  upload_id: string;
  post_id: string | null;
  claim_problem: ClaimProblem | null;
  status: string;
  reason: string | null;
  outputs: string | null;
  issued_at: string;
  outcome_at: string;
}

export class BackendStore {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;');
    this.db.exec(SCHEMA);
  }

  createPost(author: User, title: string): { postId: string; title: string } {
    const postId = randomUUID();
    this.db
      .prepare('INSERT INTO posts (post_id, issuer, subject, title) VALUES (?, ?, ?, ?)')
      .run(postId, author.issuer, author.subject, title);
    return { postId, title };
  }

  /**
   * The metadata is the caller's claim: `postId` is honoured only when that post exists and
   * belongs to the user directdrop says asked for the upload (`caller`, from its own check of
   * the token). Anything else keeps the upload, unattached, with the reason.
   */
  private attribute(event: UploadOutcomeEvent) {
    const { caller, metadata } = event.data;
    const uploader =
      caller.kind === 'oidc' ? { issuer: caller.issuer, subject: caller.subject } : undefined;
    const claimed = metadata.postId;
    if (claimed === undefined) return { uploader, postId: null, problem: null };
    if (!uploader) return { uploader, postId: null, problem: 'not-a-signed-in-user' as const };
    const post = this.db
      .prepare('SELECT issuer, subject FROM posts WHERE post_id = ?')
      .get(claimed) as { issuer: string; subject: string } | undefined;
    if (!post) return { uploader, postId: null, problem: 'unknown-post' as const };
    if (post.issuer !== uploader.issuer || post.subject !== uploader.subject) {
      return { uploader, postId: null, problem: 'not-your-post' as const };
    }
    return { uploader, postId: claimed, problem: null };
  }

  /** Records one event; 'duplicate' when its id was recorded before. */
  record(event: UploadOutcomeEvent): 'recorded' | 'duplicate' {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const fresh = this.db
        .prepare(
          'INSERT OR IGNORE INTO received_events (event_id, type, upload_id, received_at) VALUES (?, ?, ?, ?)',
        )
        .run(event.id, event.type, event.data.uploadId, new Date().toISOString());
      if (fresh.changes === 0) {
        this.db.exec('COMMIT');
        return 'duplicate';
      }
      const current = this.db
        .prepare('SELECT status, outcome_at FROM uploads WHERE upload_id = ?')
        .get(event.data.uploadId) as { status: string; outcome_at: string } | undefined;
      const supersedes =
        !current ||
        (current.status !== 'deleted' &&
          (event.data.status === 'deleted' ||
            Date.parse(event.time) >= Date.parse(current.outcome_at)));
      if (supersedes) this.write(event);
      this.db.exec('COMMIT');
      return 'recorded';
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  private write(event: UploadOutcomeEvent) {
    const { uploader, postId, problem } = this.attribute(event);
    const data = event.data;
    const outputs =
      data.status === 'processed'
        ? JSON.stringify(
            data.outputs.map(({ name, width, height, size, blobPath }) => ({
              name,
              width,
              height,
              size,
              blobPath,
            })),
          )
        : null;
    const reason = data.status === 'rejected' || data.status === 'failed' ? data.reason : null;
    this.db
      .prepare(
        `INSERT INTO uploads (upload_id, issuer, subject, post_id, claim_problem, status, reason, outputs, issued_at, outcome_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (upload_id) DO UPDATE SET
           issuer = excluded.issuer, subject = excluded.subject, post_id = excluded.post_id,
           claim_problem = excluded.claim_problem, status = excluded.status, reason = excluded.reason,
           outputs = excluded.outputs, outcome_at = excluded.outcome_at`,
      )
      .run(
        data.uploadId,
        uploader?.issuer ?? null,
        uploader?.subject ?? null,
        postId,
        problem,
        data.status,
        reason,
        outputs,
        data.issuedAt,
        event.time,
      );
  }

  /** The user's uploads, newest first; deleted ones are gone. */
  uploadsOf(user: User): MyUpload[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM uploads WHERE issuer = ? AND subject = ? AND status != 'deleted'
         ORDER BY issued_at DESC, upload_id`,
      )
      .all(user.issuer, user.subject) as unknown as UploadRow[];
    return rows.map((row) => ({
      uploadId: row.upload_id,
      status: row.status,
      ...(row.reason ? { reason: row.reason } : {}),
      ...(row.post_id ? { postId: row.post_id } : {}),
      ...(row.claim_problem ? { claimProblem: row.claim_problem } : {}),
      ...(row.outputs ? { outputs: JSON.parse(row.outputs) as MyUpload['outputs'] } : {}),
      issuedAt: row.issued_at,
    }));
  }

  close(): void {
    this.db.close();
  }
}
