// The built-in web client (Converse.js served at /) in a real browser:
// Debian's chromium driven by playwright-core, for interop_test.go.
//
//   node browser.mjs --url https://127.0.0.1:5443/ --username alice \
//     --password secret --from bob@localhost --expect "hello alice" \
//     --reply "hi bob" --out DIR
//
// It logs in through the page's form, prints {"event":"online"} once the
// client is connected, waits until --from shows among the contacts with
// new messages, opens that conversation and waits for the --expect text
// ({"event":"seen"}), answers in that chat with --reply
// ({"event":"replied"}), with --upload sends that file in the same chat
// through HTTP File Upload ({"event":"uploaded"}), and saves screenshots
// in --out. Any failure
// prints {"event":"error","text":...} and exits 1.
import { chromium } from "playwright-core";
import { parseArgs } from "node:util";
import path from "node:path";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    username: { type: "string" },
    password: { type: "string" },
    expect: { type: "string" },
    from: { type: "string" },
    reply: { type: "string" },
    upload: { type: "string" },
    out: { type: "string", default: "." },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    timeout: { type: "string", default: "30000" },
  },
});
const timeout = Number(args.timeout);
const emit = (ev) => process.stdout.write(JSON.stringify(ev) + "\n");

const browser = await chromium.launch({
  executablePath: args.chromium,
  // The test server's certificate is self-signed; root in CI needs no
  // sandbox.
  args: ["--no-sandbox", "--ignore-certificate-errors"],
});
let page;
try {
  page = await browser.newPage({ ignoreHTTPSErrors: true, viewport: { width: 1200, height: 800 } });
  page.setDefaultTimeout(timeout);
  page.on("console", (m) => process.stderr.write(`console ${m.type()}: ${m.text()}\n`));
  page.on("pageerror", (e) => process.stderr.write(`page error: ${e}\n`));
  await page.goto(args.url);
  await page.locator("input[name=jid]").fill(args.username);
  await page.locator("input[name=password]").fill(args.password);
  await page.screenshot({ path: path.join(args.out, "1-login.png") });
  await page.locator("input[name=password]").press("Enter");
  // Connected: the login form is gone and the contacts' pane is shown.
  await page.locator("converse-roster, .controlbox-pane converse-user-profile, converse-controlbox .list-container")
    .first().waitFor({ state: "attached" });
  await page.locator("input[name=password]").waitFor({ state: "detached" });
  await page.screenshot({ path: path.join(args.out, "2-online.png") });
  emit({ event: "online" });

  // The message shows its sender among the contacts with new messages;
  // opening the conversation shows the message.
  await page.getByText(args.from).first().click();
  await page.getByText(args.expect).first().waitFor();
  await page.screenshot({ path: path.join(args.out, "3-message.png") });
  emit({ event: "seen" });

  const box = page.locator("textarea.chat-textarea:visible").first();
  await box.fill(args.reply);
  await box.press("Enter");
  await page.getByText(args.reply).first().waitFor();
  await page.screenshot({ path: path.join(args.out, "4-replied.png") });
  emit({ event: "replied" });

  if (args.upload) {
    // The paperclip's hidden file input: choosing a file uploads it and
    // sends its URL in the conversation.
    await page.locator("input[type=file]").first().setInputFiles(args.upload);
    await page.locator(`a[href*="${path.basename(args.upload)}"], .chat-msg__media a, .chat-image`).first().waitFor();
    await page.screenshot({ path: path.join(args.out, "5-uploaded.png") });
    emit({ event: "uploaded" });
  }
} catch (e) {
  if (page) {
    await page.screenshot({ path: path.join(args.out, "error.png") }).catch(() => {});
  }
  emit({ event: "error", text: String(e && e.stack || e) });
  await browser.close();
  process.exit(1);
}
await browser.close();
