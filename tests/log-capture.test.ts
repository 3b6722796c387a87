// The leak check that runs after every test file: it must catch what is personal or secret and
// must not be fooled by random ids that happen to spell a short name.
import { describe, expect, it } from "vitest";
import { findLeaks } from "./helpers/log-capture.js";

const SECRET = "MfKQ9r3y5Y7j0mYd2xD8bEsnRk6g1yZp";
const NAMES = ["Ana", "Souza", SECRET];

describe("findLeaks", () => {
  it("ignores a random svix id that happens to contain a short name", () => {
    const line =
      '{"event":"clerk_webhook","svix_id":"msg_9l2cVcAnaHGsGxXqtu3Gnrgvp5t","status":200}';
    expect(findLeaks([line], NAMES)).toEqual([]);
  });

  it("catches the same name logged as a value of its own", () => {
    const lines = ['{"name":"Ana"}', '{"msg":"hello Souza"}', '{"id":"user_Ana"}'];
    expect(findLeaks(lines, NAMES)).toEqual(lines);
  });

  it("catches a secret even where it is shaped like an id", () => {
    const line = `{"key":"sk_${SECRET}"}`;
    expect(findLeaks([line], NAMES)).toEqual([line]);
  });

  it("catches any email address, registered or not", () => {
    const line = '{"to":"someone@example.org"}';
    expect(findLeaks([line], [])).toEqual([line]);
  });
});
