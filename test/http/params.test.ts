import assert from "node:assert/strict";
import { test } from "node:test";
import { expectEnvelope } from "./helpers.js";
import { startTestRegistry } from "./registry-server.js";

/** An Origin header sends a request to Express even where the fast path would take it. */
const VIA_EXPRESS = { origin: "https://refused.example" };
const TOO_LARGE = "9007199254740992";

test("every malformed integer parameter is 400 missing_field on both paths, never a 404", async (t) => {
  const reg = await startTestRegistry(t);
  for (const token of ["a", "b", "c"]) assert.equal((await reg.call(`/v/${token}`)).status, 200);

  const malformed = (name: string, prefix: string) => [
    ...(name === "limit" ? [] : [`${prefix}${name}=-1`]),
    `${prefix}${name}=1.5`,
    `${prefix}${name}=${TOO_LARGE}`,
    `${prefix}${name}=`,
    `${prefix}${name}=1&${name}=2`,
  ];
  const paths = [
    "/tlog/proof/-1",
    "/tlog/proof/1.5",
    `/tlog/proof/${TOO_LARGE}`,
    ...malformed("tree_size", "/tlog/proof/0?"),
    ...malformed("first", "/tlog/consistency?"),
    ...malformed("second", "/tlog/consistency?first=0&"),
    ...malformed("start", "/tlog/range?"),
    ...malformed("limit", "/tlog/range?"),
    ...malformed("limit", "/candidates/semantic?"),
    ...malformed("since", "/candidates/semantic?"),
  ];
  const served = reg.fastPath.served;
  for (const path of paths) {
    for (const headers of [{}, VIA_EXPRESS]) {
      const res = await reg.call(path, { auth: false, headers });
      await expectEnvelope(res, 400, "missing_field");
    }
  }
  // A malformed path parameter is Express's to refuse; a malformed query is the route's, on either dispatcher.
  const queries = paths.filter((path) => path.includes("?")).length;
  assert.equal(reg.fastPath.served, served + queries, "the fast path takes the queries and leaves the malformed path parameters to Express");
});

test("well-formed integers out of range keep their answers", async (t) => {
  const reg = await startTestRegistry(t);
  assert.equal((await reg.call("/v/a")).status, 200);
  for (const headers of [{}, VIA_EXPRESS]) {
    await expectEnvelope(await reg.call("/tlog/proof/1", { auth: false, headers }), 404, "not_found");
    await expectEnvelope(await reg.call("/tlog/proof/0?tree_size=2", { auth: false, headers }), 404, "not_found");
    assert.equal((await reg.call("/tlog/proof/0?tree_size=1", { auth: false, headers })).status, 200);
    for (const limit of ["0", "-5"]) {
      const range = await (await reg.call(`/tlog/range?limit=${limit}`, { auth: false, headers })).json();
      assert.equal(range.count, 1, `limit ${limit} is clamped to 1, as the protocol says`);
      assert.equal((await reg.call(`/candidates/semantic?limit=${limit}&since=0`, { auth: false, headers })).status, 200);
    }
  }
});
