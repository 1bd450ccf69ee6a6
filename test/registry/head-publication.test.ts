import assert from "node:assert/strict";
import { test } from "node:test";
import { HeadPublication } from "../../src/registry/head-publication.js";

/** A publish function whose calls the test ends one by one. */
function publications() {
  const calls: { finish: (error?: Error) => void }[] = [];
  const publish = () => new Promise<void>((resolve, reject) => calls.push({ finish: (error) => (error ? reject(error) : resolve()) }));
  return { calls, publish };
}

test("commits landing while a publication runs are covered by one more, started when it ends", async () => {
  const { calls, publish } = publications();
  const ended: string[] = [];
  const publication = new HeadPublication(publish, {
    published: (seconds) => ended.push(seconds >= 0 ? "published" : "negative"),
    failed: () => ended.push("failed"),
  });
  assert.equal(publication.inFlight(), null, "nothing under way before a commit");
  publication.committed();
  assert.equal(calls.length, 1, "the first commit starts one at once");
  const running = publication.inFlight()!;
  for (let i = 0; i < 5; i++) publication.committed();
  assert.equal(calls.length, 1, "at most one runs");
  const following = publication.inFlight()!;
  assert.notEqual(following, running, "a read after those commits waits for the queued one");

  let coveredByRunning = false;
  void running.then(() => (coveredByRunning = true));
  let coveredByFollowing = false;
  void following.then(() => (coveredByFollowing = true));
  calls[0]!.finish();
  await running;
  assert.equal(coveredByFollowing, false);
  assert.equal(calls.length, 2, "one more covers the five commits");
  calls[1]!.finish();
  await following;
  assert.ok(coveredByRunning && coveredByFollowing);
  assert.equal(publication.inFlight(), null);
  assert.deepEqual(ended, ["published", "published"]);
});

test("a failed publication settles its waiters without rejecting, is reported, and the next commit starts another", async () => {
  const { calls, publish } = publications();
  const failures: unknown[] = [];
  const publication = new HeadPublication(publish, { published: () => {}, failed: (error) => failures.push(error) });
  publication.committed();
  const waiting = publication.inFlight()!;
  calls[0]!.finish(new Error("ENOSPC"));
  await waiting;
  assert.deepEqual(
    failures.map((error) => (error as Error).message),
    ["ENOSPC"],
  );
  assert.equal(publication.inFlight(), null, "a read does not start one");
  publication.committed();
  assert.equal(calls.length, 2);
  calls[1]!.finish();
  await publication.inFlight();
  assert.equal(failures.length, 1);
});

test("a publish function that throws before its first await fails like one that rejects", async () => {
  const failures: unknown[] = [];
  const publication = new HeadPublication(
    () => {
      throw new Error("refusing to sign a tree head inside an open database transaction");
    },
    { published: () => {}, failed: (error) => failures.push(error) },
  );
  publication.committed();
  await publication.inFlight();
  assert.equal(failures.length, 1);
  assert.equal(publication.inFlight(), null);
});
