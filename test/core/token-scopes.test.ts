import assert from "node:assert/strict";
import { test } from "node:test";
import { FULL_SCOPES, ScopeError, registerRefusal, scopesFrom } from "../../src/core/token-scopes.js";

const KEY = "ab".repeat(32);

test("scopes from the create flags: names, comma lists, issuer limits", () => {
  assert.deepEqual(scopesFrom({ scopes: ["attribute"] }), { attribute: true });
  assert.deepEqual(scopesFrom({ scopes: ["register,attribute", "admin"] }), {
    register: { issuer_ids: [], issuer_prefixes: [], issuer_keys: [] },
    attribute: true,
    admin: true,
  });
  assert.deepEqual(scopesFrom({ scopes: ["register"], issuerPrefixes: ["acme-"], issuerKeys: [KEY.toUpperCase()] }).register, {
    issuer_ids: [],
    issuer_prefixes: ["acme-"],
    issuer_keys: [KEY],
  });
});

test("malformed scopes are refused with a message naming the problem", () => {
  const cases: [Parameters<typeof scopesFrom>[0], RegExp][] = [
    [{ scopes: [] }, /--scope is required/],
    [{ scopes: [" , "] }, /--scope is required/],
    [{ scopes: ["register", "write"] }, /unknown scope "write"/],
    [{ scopes: ["attribute"], issuerPrefixes: ["acme-"] }, /add --scope register/],
    [{ scopes: ["register"], issuerKeys: ["abc"] }, /--issuer-key must be an Ed25519 public key/],
    [{ scopes: ["register"], issuerIds: [""] }, /malformed scope/],
  ];
  for (const [request, message] of cases)
    assert.throws(
      () => scopesFrom(request),
      (error) => error instanceof ScopeError && message.test(error.message),
    );
});

test("a register scope admits an issuer by exact id, prefix or key, and names what is missing otherwise", () => {
  const limited = scopesFrom({ scopes: ["register"], issuerIds: ["globex"], issuerPrefixes: ["acme-"] });
  assert.equal(registerRefusal(limited, "globex", KEY), null);
  assert.equal(registerRefusal(limited, "acme-docs", KEY), null);
  assert.match(registerRefusal(limited, "globex-2", KEY)!, /^missing scope register for issuer "globex-2"/);
  const byKey = scopesFrom({ scopes: ["register"], issuerKeys: [KEY] });
  assert.equal(registerRefusal(byKey, "anyone", KEY), null);
  assert.match(registerRefusal(byKey, "anyone", "cd".repeat(32))!, /with this issuer key/);
  assert.equal(registerRefusal({ attribute: true }, "acme", KEY), "missing scope register");
  assert.equal(registerRefusal(FULL_SCOPES, "anyone", KEY), null);
});
