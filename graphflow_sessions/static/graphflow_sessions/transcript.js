// Show message times in the viewer's own time zone. The server renders them in Django's
// active time zone; the stored UTC value stays in the title (hover) and datetime attribute.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  let format;
  try {
    format = new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
    });
  } catch (error) {
    return;
  }
  document.querySelectorAll(".gfs-message time[datetime]").forEach(function (element) {
    const moment = new Date(element.getAttribute("datetime"));
    if (!isNaN(moment.getTime())) {
      element.textContent = format.format(moment);
    }
  });
});
