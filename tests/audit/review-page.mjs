// Drives the access review page (GET /reviews/{id}) in headless Chromium with playwright-core,
// as a reviewer would: a wrong key first, then the right one; filters by group; a revocation
// without its comment (refused), then decides the items given; completes the review with the
// revocations applied. Prints one line per step for tests/browser/review_page.rs to check.
//
// node review-page.mjs <base url> <review id> <reviewer key> <group id> <decisions json>
//   <admin key> <report pdf path> [<screenshot dir>]
// Then opens the review's report with the admin key and prints it to PDF.
// decisions: [{ "user": "e-mail", "decision": "KEEP|REVOKE|DONT_KNOW", "comment": "…" }]
import { chromium } from "playwright-core";

const [base, reviewId, key, groupId, plan, adminKey, pdfPath, shots] = process.argv.slice(2);
const decisions = JSON.parse(plan);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

const browser = await chromium.launch({
  executablePath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const say = (...parts) => console.log(parts.join(" "));
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on("pageerror", (e) => say("pageerror", e.message));
  // Nothing but this gateway is asked for anything.
  page.on("request", (r) => { if (!r.url().startsWith(base)) say("foreign", r.url()); });

  await page.goto(`${base}/reviews/${encodeURIComponent(reviewId)}`);
  await page.locator("#key-form").waitFor({ state: "visible" });

  await page.fill("#key", "not-a-key");
  await page.click("#key-submit");
  await page.locator("#error").waitFor({ state: "visible" });
  say("wrong key:", await page.textContent("#error"));

  await page.fill("#key", key);
  await page.click("#key-submit");
  await page.locator("#items tbody tr").first().waitFor();
  say("key in page:", (await page.content()).includes(key));
  say("title:", await page.textContent("#title"));
  const all = await page.locator("#items tbody tr").count();
  await page.selectOption("#group-filter", groupId);
  const groups = await page.$$eval("#items tbody tr", (rows) => [...new Set(rows.map((r) => r.dataset.group))]);
  say("rows:", all, "filtered:", await page.locator("#items tbody tr").count(), "groups:", groups.join(","));

  const row = (user) => page.locator(`#items tbody tr[data-user="${user.toLowerCase()}"]`);
  // A revocation without a comment: the page says why it is refused.
  const revoke = decisions.find((d) => d.decision === "REVOKE");
  await row(revoke.user).locator("select.decision").selectOption("REVOKE");
  await page.click("#save");
  await page.locator("#error").waitFor({ state: "visible" });
  say("no comment:", await page.textContent("#error"));

  for (const d of decisions) {
    await row(d.user).locator("select.decision").selectOption(d.decision);
    await row(d.user).locator("input.justification").fill(d.comment || "");
  }
  say("pending:", await page.textContent("#pending"));
  await page.click("#save");
  await page.waitForFunction(() => document.getElementById("notice").textContent.startsWith("Saved"));
  say("saved:", await page.textContent("#notice"));
  for (const d of decisions) {
    say("current", d.user.toLowerCase(), (await row(d.user).locator("td.current").textContent()));
  }
  if (shots) {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${shots}/review-page.png` });
  }

  if (!(await page.isChecked("#apply-revocations"))) await page.check("#apply-revocations");
  await page.click("#complete");
  await page.waitForFunction(() => document.getElementById("notice").textContent.startsWith("Review completed"));
  say("completed:", await page.textContent("#notice"));
  say("summary:", await page.textContent("#summary"));
  for (const d of decisions) {
    say("result", d.user.toLowerCase(), await row(d.user).locator("td.result").textContent());
  }
  say("save disabled:", await page.isDisabled("#save"));

  const report = await context.newPage();
  report.on("request", (r) => { if (!r.url().startsWith(base)) say("foreign", r.url()); });
  await report.goto(`${base}/reviews/${encodeURIComponent(reviewId)}/report?access_token=${encodeURIComponent(adminKey)}`);
  say("report:", await report.textContent("h1"));
  if (shots) {
    await report.setViewportSize({ width: 1400, height: 1200 });
    await report.screenshot({ path: `${shots}/review-report.png` });
  }
  await report.emulateMedia({ media: "print" });
  say("print thead:", await report.$eval("table.decisions thead", (t) => getComputedStyle(t).display));
  await report.pdf({ path: pdfPath, format: "A4" });
  say("pdf written");
  say("done");
} finally {
  await browser.close();
}
