// Live transcripts: while the session page is visible, ask the server now and then for the
// messages added since it was drawn (any writer may add them, a Rust service included, so
// there is no signal to wait for). The server answers 304 while the row is unchanged; new
// messages come as HTML it rendered and escaped. Polls slow down while nothing happens and
// stop while the tab is hidden. Without this script the page is complete as served.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  const section = document.querySelector("section.gfs-transcript[data-live-url]");
  if (!section || !window.fetch) {
    return;
  }
  const list = section.querySelector("ol.gfs-messages");
  const status = section.querySelector(".gfs-live");
  const bounds = section.dataset.livePoll.split(" ").map(Number);
  const shortest = bounds[0] * 1000;
  const longest = bounds[1] * 1000;
  const append = section.dataset.liveAppend === "true";
  let after = section.dataset.liveAfter;
  let anchor = section.dataset.liveAnchor;
  let etag = section.dataset.liveEtag;
  let wait = shortest;
  let timer = null;
  let stopped = false;
  let busy = false;  // one poll at a time, or two could append the same messages

  function show(notice, linkText, href) {
    status.textContent = notice;
    if (linkText) {
      const link = document.createElement("a");
      link.href = href;
      link.textContent = linkText;
      status.append(" ", link);
    }
    status.hidden = !notice;
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = null;
    if (!busy && !stopped && document.visibilityState === "visible") {
      timer = setTimeout(poll, delay);
    }
  }

  function appendMessages(html) {
    // Parsed in an inert document (no script runs there), then moved into the page.
    const parsed = new DOMParser().parseFromString("<ol>" + html + "</ol>", "text/html");
    Array.from(parsed.body.firstChild.children).forEach(function (item) {
      list.append(document.adoptNode(item));
    });
  }

  function renumber(shift) {
    // The history dropped its oldest messages (max_messages, a trim): the page's messages
    // moved up by ``shift`` places, and those now before the first are gone.
    Array.from(list.children).forEach(function (item) {
      const number = Number(item.dataset.number) - shift;
      if (number < 1) {
        item.remove();
        return;
      }
      item.dataset.number = String(number);
      item.value = number;
      item.id = "message-" + number;
      const label = item.querySelector(".gfs-number");
      if (label) {
        label.textContent = "#" + number;
      }
    });
    list.start = Math.max(Number(section.dataset.liveFirst) - shift, 1);
  }

  function handle(answer) {
    if (answer.reload) {
      stopped = true;
      show(answer.notice, answer.link, window.location.href);
      return;
    }
    if (!append) {
      if (answer.new > 0) {
        show(answer.notice, answer.link, section.dataset.liveNewestUrl);
      }
      return;
    }
    if (answer.shift > 0) {
      renumber(answer.shift);
      section.dataset.liveFirst = String(answer.first);
    }
    if (answer.html) {
      appendMessages(answer.html);
      show(answer.notice);
    }
    if (answer.html || answer.shift > 0) {
      section.querySelector(".gfs-count").textContent = answer.summary;
    }
    after = String(answer.after);
    anchor = answer.anchor;
  }

  function poll() {
    timer = null;
    busy = true;
    const url = new URL(section.dataset.liveUrl, window.location.href);
    url.search = new URLSearchParams({
      after: after, anchor: anchor, append: append ? "1" : "0", first: section.dataset.liveFirst,
    });
    const headers = {"Accept": "application/json"};
    if (etag) {
      headers["If-None-Match"] = etag;
    }
    fetch(url, {headers: headers, cache: "no-store", credentials: "same-origin"})
      .then(function (response) {
        if (response.status === 304) {
          wait = Math.min(wait * 1.5, longest);  // idle: ask less often
          return null;
        }
        if (!response.ok) {
          // Logged out, no longer allowed, or the session is gone: polling cannot help.
          stopped = response.status >= 400 && response.status < 500;
          wait = longest;
          return null;
        }
        return response.json().then(function (answer) {
          // More than one batch behind: fetch the rest at once, not when the ETag matches.
          etag = answer.more ? null : response.headers.get("ETag");
          wait = answer.more ? 0 : shortest;
          handle(answer);
        });
      })
      .catch(function () {
        wait = longest;  // the server is unreachable for now
      })
      .finally(function () {
        busy = false;
        schedule(wait);
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      wait = shortest;
      schedule(0);
    } else {
      clearTimeout(timer);
      timer = null;
    }
  });
  schedule(wait);
});
