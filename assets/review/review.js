// The access review page: reads the review through /graphql with the reviewer's API key
// (kept in this tab's sessionStorage, never in the page or its address), lists its items,
// filters them, records decisions and completes the review. No framework, no build step.
"use strict";

(function () {
  const KEY = "scimgate.reviewKey";
  const PAGE = 100; // the most a page of `items` may hold
  const reviewId = document.body.dataset.reviewId;
  const $ = (id) => document.getElementById(id);
  let review = null;
  let viewer = "";
  let items = [];
  const pending = new Map(); // item id -> { decision, justification }

  const REVIEW_FIELDS = `id name state dueAt createdAt reviewers justificationRequired
    completedAt applyRevocations
    counts { total keep revoke dontKnow notReviewed finalRevoke applied appliedButNotFound
      appliedUnknownFailure notApplied }`;
  const ITEM_FIELDS = `id number userEmail userName userStatus groupUpstreamId groupName
    recommendation recommendationReason decision justification decidedBy decidedAt
    finalDecision applyResult`;

  class KeyRefused extends Error {}

  function show(el, on) { el.hidden = !on; }
  function error(text) { $("error").textContent = text; show($("error"), !!text); }
  function notice(text) { $("notice").textContent = text; show($("notice"), !!text); }

  async function gql(query, variables) {
    const key = sessionStorage.getItem(KEY);
    if (!key) throw new KeyRefused("Enter your reviewer API key to open this review.");
    let response;
    try {
      response = await fetch("/graphql", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/graphql-response+json, application/json",
          authorization: "Bearer " + key,
        },
        body: JSON.stringify({ query, variables }),
      });
    } catch (e) {
      throw new Error("The gateway could not be reached: " + e.message);
    }
    if (response.status === 401) {
      throw new KeyRefused("This API key was not accepted (wrong or revoked key). Enter it again.");
    }
    let body;
    try { body = await response.json(); } catch (e) {
      throw new Error("The gateway answered HTTP " + response.status + " without a GraphQL body.");
    }
    if (body.errors && body.errors.length) {
      const e = body.errors[0];
      const code = (e.extensions && e.extensions.code) || "ERROR";
      if (code === "FORBIDDEN") {
        throw new KeyRefused("This API key may not do this (" + e.message + "). A reviewer key named by the review is needed.");
      }
      throw new Error(code + ": " + e.message);
    }
    return body.data;
  }

  function userErrorsText(errors) {
    return errors.map((e) => {
      switch (e.code) {
        case "JUSTIFICATION_REQUIRED":
          return "A comment (justification) is required: " + e.message;
        case "NOT_A_REVIEWER":
          return "This key is not one of this review's reviewers: " + e.message;
        case "REVIEW_NOT_IN_PROGRESS":
          return "The review is no longer in progress: " + e.message;
        default:
          return e.code + ": " + e.message;
      }
    }).join(" ");
  }

  async function load() {
    error("");
    const data = await gql(`query($id: ID!) { viewer { name } accessReview(id: $id) { ${REVIEW_FIELDS} } }`, { id: reviewId });
    viewer = data.viewer.name;
    if (!data.accessReview) {
      throw new KeyRefused("No access review with this id is visible to this API key: the key is not one of the review's reviewers, or the review does not exist.");
    }
    review = data.accessReview;
    const all = [];
    let after = null;
    for (;;) {
      const page = await gql(
        `query($id: ID!, $first: Int!, $after: String) { accessReview(id: $id) {
          items(first: $first, after: $after) { edges { node { ${ITEM_FIELDS} } }
            pageInfo { hasNextPage endCursor } } } }`,
        { id: reviewId, first: PAGE, after });
      const conn = page.accessReview.items;
      for (const e of conn.edges) all.push(e.node);
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    items = all;
    pending.clear();
    show($("key-form"), false);
    show($("review"), true);
    renderHeader();
    renderGroups();
    renderItems();
  }

  function renderHeader() {
    const c = review.counts;
    $("title").textContent = "Access review: " + review.name;
    document.title = review.name + " · access review";
    let text = "State " + review.state + " · " + c.total + " items · keep " + c.keep +
      " · revoke " + c.revoke + " · don't know " + c.dontKnow + " · not reviewed " + c.notReviewed;
    if (review.dueAt) text += " · due " + review.dueAt;
    if (review.state !== "IN_PROGRESS") {
      text += " · applied " + c.applied + " · not found " + c.appliedButNotFound +
        " · not applied " + c.notApplied;
    }
    text += " · a comment is required: " + review.justificationRequired;
    $("summary").textContent = text;
    const open = review.state === "IN_PROGRESS";
    $("save").disabled = !open;
    $("complete").disabled = !open;
    $("apply-revocations").disabled = !open;
  }

  function renderGroups() {
    const select = $("group-filter");
    const chosen = select.value;
    const groups = new Map();
    for (const i of items) groups.set(i.groupUpstreamId, i.groupName);
    while (select.options.length > 1) select.remove(1);
    [...groups.entries()].sort((a, b) => a[1].localeCompare(b[1])).forEach(([id, name]) => {
      const o = document.createElement("option");
      o.value = id;
      o.textContent = name;
      select.appendChild(o);
    });
    select.value = groups.has(chosen) ? chosen : "";
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    if (text !== undefined) td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function fillCurrent(td, item) {
    td.textContent = item.decision;
    if (item.decidedBy) {
      const by = document.createElement("span");
      by.className = "reason";
      by.textContent = "by " + item.decidedBy + (item.justification ? ": " + item.justification : "");
      td.appendChild(by);
    }
  }

  function renderItems() {
    const group = $("group-filter").value;
    const decision = $("decision-filter").value;
    const open = review.state === "IN_PROGRESS";
    const body = document.querySelector("#items tbody");
    const rows = document.createDocumentFragment();
    let shown = 0;
    for (const item of items) {
      if (group && item.groupUpstreamId !== group) continue;
      if (decision && item.decision !== decision) continue;
      shown++;
      const tr = document.createElement("tr");
      tr.dataset.itemId = item.id;
      tr.dataset.user = item.userEmail.toLowerCase();
      tr.dataset.group = item.groupUpstreamId;
      cell(tr, String(item.number));
      const who = cell(tr, item.userName ? item.userName + " <" + item.userEmail + ">" : item.userEmail);
      if (item.userStatus !== "ACTIVE") who.append(" (" + item.userStatus + ")");
      cell(tr, item.groupName);
      const rec = cell(tr, item.recommendation, "rec-" + item.recommendation);
      if (item.recommendationReason) {
        const why = document.createElement("span");
        why.className = "reason";
        why.textContent = item.recommendationReason;
        rec.appendChild(why);
      }
      fillCurrent(cell(tr, undefined, "current"), item);
      const p = pending.get(item.id);
      const select = document.createElement("select");
      select.className = "decision";
      select.setAttribute("aria-label", "New decision for " + item.userEmail + " in " + item.groupName);
      for (const [value, label] of [["", "—"], ["KEEP", "Keep"], ["REVOKE", "Revoke"], ["DONT_KNOW", "Don't know"]]) {
        const o = document.createElement("option");
        o.value = value;
        o.textContent = label;
        select.appendChild(o);
      }
      select.value = p ? p.decision : "";
      select.disabled = !open;
      cell(tr).appendChild(select);
      const comment = document.createElement("input");
      comment.type = "text";
      comment.className = "justification";
      comment.maxLength = 1000;
      comment.setAttribute("aria-label", "Comment for " + item.userEmail + " in " + item.groupName);
      comment.value = p ? p.justification : "";
      comment.disabled = !open;
      cell(tr).appendChild(comment);
      const result = item.applyResult || item.finalDecision || "";
      cell(tr, result, "result");
      const change = () => {
        if (select.value) {
          pending.set(item.id, { decision: select.value, justification: comment.value.trim() });
        } else {
          pending.delete(item.id);
        }
        tr.classList.toggle("changed", !!select.value);
        renderPending();
      };
      select.addEventListener("change", change);
      comment.addEventListener("input", change);
      if (p) tr.classList.add("changed");
      rows.appendChild(tr);
    }
    body.replaceChildren(rows);
    $("shown").textContent = shown + " of " + items.length + " items shown";
    renderPending();
  }

  function renderPending() {
    $("pending").textContent = pending.size ? pending.size + " unsaved decision(s)" : "";
  }

  async function save() {
    error(""); notice("");
    if (!pending.size) { notice("Nothing to save: choose a new decision for at least one item."); return; }
    const decisions = [...pending.entries()].map(([itemId, d]) => {
      const out = { itemId, decision: d.decision };
      if (d.justification) out.justification = d.justification;
      return out;
    });
    const data = await gql(`mutation($input: DecideReviewItemsInput!) { decideReviewItems(input: $input) {
        outcome decided userErrors { code message } } }`,
      { input: { reviewId, decisions } });
    const p = data.decideReviewItems;
    if (p.userErrors.length) { error(userErrorsText(p.userErrors)); return; }
    // All or none were recorded: show them without reading every item again.
    const byId = new Map(items.map((i) => [i.id, i]));
    for (const d of decisions) {
      const item = byId.get(d.itemId);
      item.decision = d.decision;
      item.justification = d.justification || "";
      item.decidedBy = viewer;
    }
    pending.clear();
    // Only the rows shown that changed are redrawn (a review may hold thousands).
    for (const row of document.querySelectorAll("#items tbody tr.changed")) {
      const item = byId.get(row.dataset.itemId);
      fillCurrent(row.querySelector("td.current"), item);
      row.querySelector("select.decision").value = "";
      row.querySelector("input.justification").value = "";
      row.classList.remove("changed");
    }
    const fresh = await gql(`query($id: ID!) { accessReview(id: $id) { ${REVIEW_FIELDS} } }`, { id: reviewId });
    if (fresh.accessReview) review = fresh.accessReview;
    renderHeader();
    renderPending();
    notice("Saved " + p.decided + " decision(s).");
  }

  async function complete() {
    error(""); notice("");
    if (pending.size) {
      error("Save your " + pending.size + " unsaved decision(s) first, or set them back to —.");
      return;
    }
    const applyRevocations = $("apply-revocations").checked;
    const data = await gql(`mutation($input: CompleteAccessReviewInput!) { completeAccessReview(input: $input) {
        outcome applied appliedButNotFound appliedUnknownFailure notApplied deactivated
        userErrors { code message } } }`,
      { input: { reviewId, applyRevocations } });
    const p = data.completeAccessReview;
    if (p.userErrors.length) { error(userErrorsText(p.userErrors)); return; }
    await load();
    notice("Review completed. Revocations applied: " + p.applied + ", already gone: " +
      p.appliedButNotFound + ", unknown: " + p.appliedUnknownFailure + ", not applied: " +
      p.notApplied + ", users deactivated: " + p.deactivated + ".");
  }

  function guard(action) {
    return () => action().catch((e) => {
      if (e instanceof KeyRefused) {
        sessionStorage.removeItem(KEY);
        show($("review"), false);
        show($("key-form"), true);
      }
      error(e.message);
    });
  }

  $("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = $("key").value.trim();
    $("key").value = "";
    if (!key) { error("Enter your reviewer API key."); return; }
    sessionStorage.setItem(KEY, key);
    guard(load)();
  });
  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    show($("review"), false);
    show($("key-form"), true);
    notice("The key was removed from this tab.");
  });
  $("group-filter").addEventListener("change", renderItems);
  $("decision-filter").addEventListener("change", renderItems);
  $("save").addEventListener("click", guard(save));
  $("complete").addEventListener("click", guard(complete));

  if (sessionStorage.getItem(KEY)) {
    guard(load)();
  } else {
    show($("key-form"), true);
  }
})();
