// The web admin pages (server/webadmin) in a real browser: Debian's
// chromium driven by playwright-core, for webadmin_test.go.
//
//   node webadmin.mjs --url http://127.0.0.1:5380/admin/ --token parley_... \
//     --kick alice@localhost/phone --out DIR
//
// It opens --url (which sends it to the login form), pastes a wrong
// token and prints {"event":"refused"} once the form says so, pastes
// --token, prints {"event":"logged-in"} on the overview, opens the sessions page
// and prints {"event":"listed","sessions":"jid jid ..."} once --kick is
// listed, presses that session's Kick button and prints
// {"event":"kicked","flash":...} once the page reports it and the row
// is gone, then opens the warnings page and prints {"event":"warnings"}
// once it lists the failed login. Screenshots of each step go to --out. A Content-Security-
// Policy violation, a page error or any other failure prints
// {"event":"error","text":...} and exits 1.
import { chromium } from "playwright-core";
import { parseArgs } from "node:util";
import path from "node:path";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    token: { type: "string" },
    kick: { type: "string" },
    out: { type: "string", default: "." },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    timeout: { type: "string", default: "30000" },
  },
});
const emit = (ev) => process.stdout.write(JSON.stringify(ev) + "\n");

const browser = await chromium.launch({ executablePath: args.chromium, args: ["--no-sandbox"] });
let page;
const problems = [];
try {
  page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
  page.setDefaultTimeout(Number(args.timeout));
  page.on("console", (m) => {
    process.stderr.write(`console ${m.type()}: ${m.text()}\n`);
    if (m.type() === "error") problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e}`));
  await page.goto(args.url);
  await page.locator("input[name=token]").waitFor();
  await page.screenshot({ path: path.join(args.out, "1-login.png") });
  await page.locator("input[name=token]").fill("parley_not-a-token");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator(".error", { hasText: "not a valid admin token" }).waitFor();
  await page.screenshot({ path: path.join(args.out, "1-refused.png") });
  emit({ event: "refused" });
  problems.length = 0; // the browser logs the 401 answer
  await page.locator("input[name=token]").fill(args.token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator("h1", { hasText: "Overview" }).waitFor();
  // The stylesheet loaded under the page's CSP: the header is coloured.
  const bg = await page.locator("header").evaluate((e) => getComputedStyle(e).backgroundColor);
  if (bg !== "rgb(35, 57, 93)") throw new Error(`the stylesheet did not apply (header background ${bg})`);
  await page.screenshot({ path: path.join(args.out, "2-overview.png") });
  emit({ event: "logged-in" });

  await page.getByRole("link", { name: "Sessions" }).click();
  const row = page.locator("#sessions tr", { has: page.locator("td.jid", { hasText: args.kick }) });
  await row.waitFor();
  const jids = await page.locator("#sessions td.jid").allTextContents();
  await page.screenshot({ path: path.join(args.out, "3-sessions.png") });
  emit({ event: "listed", sessions: jids.join(" ") });

  await row.locator("input[name=reason]").fill("closed from the web admin page");
  await row.getByRole("button", { name: `kick ${args.kick}` }).click();
  const flash = page.locator(".flash", { hasText: "Ended 1 session(s)" });
  await flash.waitFor();
  await row.waitFor({ state: "detached" });
  await page.screenshot({ path: path.join(args.out, "4-kicked.png") });
  emit({ event: "kicked", flash: (await flash.textContent()).trim() });

  await page.getByRole("link", { name: "Warnings and errors" }).click();
  await page.locator("table.log td", { hasText: "admin web: login with an invalid token" }).waitFor();
  await page.screenshot({ path: path.join(args.out, "5-warnings.png") });
  if (problems.length) throw new Error(problems.join("; "));
  emit({ event: "warnings" });
} catch (e) {
  if (page) await page.screenshot({ path: path.join(args.out, "error.png") }).catch(() => {});
  emit({ event: "error", text: String(e) });
  await browser.close();
  process.exit(1);
}
await browser.close();
