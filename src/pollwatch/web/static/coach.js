// The coach page: ask and practise without reloading. Everything is built with
// textContent (never innerHTML), so nothing a user or the knowledge base says can run.
(function () {
  "use strict";
  var T = JSON.parse(document.getElementById("coach-i18n").textContent);
  var lang = document.documentElement.lang || "en";
  var practiceState = null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function api(path, body) {
    var opts = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    };
    return fetch(path, opts).then(function (resp) {
      return resp.json().then(function (data) {
        if (!resp.ok) throw new Error((data.error && data.error.message) || T.error);
        return data;
      });
    });
  }

  function showError(target, err) {
    target.replaceChildren(el("p", { "class": "note", role: "alert" }, T.error + " " + err.message));
  }

  function step(cls, title, text) {
    var box = el("div", { "class": "step " + cls });
    box.appendChild(el("h3", {}, title));
    box.appendChild(el("p", {}, text));
    return box;
  }

  function riskList(texts) {
    var list = el("ul", { "class": "risks" });
    texts.forEach(function (text) { list.appendChild(el("li", { "class": "risk" }, text)); });
    return list;
  }

  // Safety first: the legal risk of saying or sharing this answer, before the answer.
  function warnings(answer) {
    var box = el("div", { "class": "warnings", role: "note" });
    if (answer.risks && answer.risks.length) {
      box.appendChild(el("h3", {}, "⚠ " + T.risk));
      box.appendChild(riskList(answer.risks.map(function (r) { return r.text; })));
    }
    var shared = [];
    (answer.sources || []).forEach(function (s) {
      if (s.risk && shared.indexOf(s.risk) < 0) shared.push(s.risk);
    });
    if (shared.length) {
      box.appendChild(el("h3", {}, "⚠ " + T.sharing));
      box.appendChild(riskList(shared));
    }
    var p = el("p");
    p.appendChild(el("a", { "class": "safety-link", href: "/coach/safety?lang=" + lang }, T.safety));
    p.appendChild(document.createTextNode(" — " + T.safety_hint));
    box.appendChild(p);
    return box;
  }

  function renderAnswer(answer) {
    var art = el("article", { "class": "answer", "data-argument": answer.argument_id, lang: answer.lang });
    art.appendChild(warnings(answer));
    art.appendChild(el("p", { "class": "claim" }, "«" + answer.claim + "»"));
    art.appendChild(step("bridge", T.bridge, answer.bridge));
    art.appendChild(step("counter", T.counterargument, answer.counterargument));
    art.appendChild(step("question", T.question, answer.question));
    if (answer.sources && answer.sources.length) {
      art.appendChild(el("h2", {}, T.sources));
      var list = el("ul", { "class": "sources" });
      answer.sources.forEach(function (s) {
        var li = el("li");
        var safe = /^https?:\/\//.test(s.url) ? s.url : "#";
        li.appendChild(el("a", { href: safe, rel: "noreferrer noopener", target: "_blank" }, s.title));
        li.appendChild(document.createTextNode(" — " + (s.publisher || "")));
        list.appendChild(li);
      });
      art.appendChild(list);
    }
    var reviewed = T.reviewed.replace("{roles}", (answer.reviewed_by || []).join(", "))
      .replace("{date}", answer.review_date || "");
    if (answer.status === "draft") reviewed += " " + T.draft;
    art.appendChild(el("p", { "class": "reviewed" }, reviewed));
    return art;
  }

  function pick(id) {
    var out = document.getElementById("ask-result");
    api("/api/v1/coach/arguments/" + encodeURIComponent(id) + "?lang=" + lang)
      .then(function (data) { out.replaceChildren(renderAnswer(data.answer)); })
      .catch(function (err) { showError(out, err); });
  }

  function choiceButton(id, claim) {
    var b = el("button", { type: "button", "class": "secondary choice", "data-argument": id }, claim);
    b.addEventListener("click", function () { pick(id); });
    return b;
  }

  function renderResult(data) {
    var out = document.getElementById("ask-result");
    if (data.status === "confident" && data.answer) {
      out.replaceChildren(renderAnswer(data.answer));
    } else if (data.status === "choose") {
      var box = el("div", { "class": "choices" });
      box.appendChild(el("p", {}, data.mixed ? T.mixed : T.choose));
      data.matches.forEach(function (m) { box.appendChild(choiceButton(m.id, m.claim)); });
      out.replaceChildren(box);
    } else {
      var none = el("div", { "class": "none" });
      if (data.general) {
        none.appendChild(el("p", { "class": "general" },
          T.no_answer + " " + data.general.acknowledge + " " + data.general.question));
      }
      none.appendChild(el("p", {}, T.none));
      (data.topics || []).forEach(function (t) {
        none.appendChild(el("h3", {}, t.label || t.topic));
        t.arguments.forEach(function (a) { none.appendChild(choiceButton(a.id, a.claim)); });
      });
      out.replaceChildren(none);
    }
  }

  document.getElementById("ask-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = document.getElementById("ask-text").value;
    var out = document.getElementById("ask-result");
    out.replaceChildren(el("p", {}, T.thinking));
    api("/api/v1/coach/ask", { text: text, lang: null })
      .then(renderResult)
      .catch(function (err) { showError(out, err); });
  });

  document.querySelectorAll(".choice[data-argument]").forEach(function (a) {
    a.addEventListener("click", function (ev) { ev.preventDefault(); pick(a.getAttribute("data-argument")); });
  });

  document.querySelectorAll("[role=tab]").forEach(function (tab) {
    tab.addEventListener("click", function () {
      document.querySelectorAll("[role=tab]").forEach(function (t) {
        var on = t === tab;
        t.setAttribute("aria-selected", on ? "true" : "false");
        document.getElementById(t.getAttribute("data-panel")).classList.toggle("hidden", !on);
      });
    });
  });

  function bubble(who, text) {
    document.getElementById("practice-log").appendChild(el("p", { "class": "bubble " + who }, text));
  }

  function renderFeedback(fb) {
    var box = el("div", { "class": "feedback" });
    box.appendChild(el("strong", {}, T.feedback + " " + fb.total + "/" + fb.max_total));
    var list = el("ul");
    fb.dimensions.forEach(function (d) {
      var passed = d.score >= d.max_score;
      list.appendChild(el("li", { "class": passed ? "pass" : "fail", "data-dimension": d.name },
        d.label + ": " + d.reason));
    });
    box.appendChild(list);
    if (fb.suggestion) box.appendChild(el("p", { "class": "better" }, T.better + " " + fb.suggestion));
    document.getElementById("practice-log").appendChild(box);
  }

  document.getElementById("practice-start").addEventListener("click", function () {
    var log = document.getElementById("practice-log");
    var argument = document.getElementById("practice-argument").value || null;
    api("/api/v1/coach/practice", { argument: argument, lang: lang })
      .then(function (data) {
        practiceState = data.state;
        log.replaceChildren();
        bubble("relative", data.relative);
        document.getElementById("practice-form").classList.remove("hidden");
        document.getElementById("practice-text").focus();
      })
      .catch(function (err) { showError(log, err); });
  });

  document.getElementById("practice-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = document.getElementById("practice-text");
    var text = input.value;
    bubble("user", text);
    input.value = "";
    api("/api/v1/coach/practice/reply", { state: practiceState, text: text })
      .then(function (data) {
        practiceState = data.state;
        renderFeedback(data.feedback);
        if (data.relative) bubble("relative", data.relative);
        if (data.done) {
          document.getElementById("practice-form").classList.add("hidden");
          document.getElementById("practice-log").appendChild(el("p", { "class": "note" }, T.done));
        }
      })
      .catch(function (err) { showError(document.getElementById("practice-log"), err); });
  });
})();
