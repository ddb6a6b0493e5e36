// neurosym serve: send the problem, show the model's text as it streams, then the server-rendered outcome.
// Text from the model or the person is only ever set with textContent; HTML comes from the server's
// templates, which escape every value (and the Content-Security-Policy runs no inline script).
"use strict";
(() => {
  const token = document.querySelector('meta[name="neurosym-token"]').content;
  const $ = (id) => document.getElementById(id);
  const withToken = (path) => `${path}?token=${encodeURIComponent(token)}`;

  function notice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  function setState(state) {
    document.body.dataset.state = state;
    $("solve").disabled = state === "writing";
  }

  async function post(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Neurosym-Token": token },
      body: JSON.stringify(body),
    });
  }

  async function errorText(response) {
    try {
      const data = await response.json();
      return data.error || `${response.status} ${response.statusText}`;
    } catch {
      return `${response.status} ${response.statusText}`;
    }
  }

  function showOutcome(html) {
    $("result").innerHTML = html; // rendered and escaped by the server
    setState("done");
  }

  async function loadOutcome(job) {
    const response = await fetch(withToken(`/api/jobs/${job}/view`));
    if (!response.ok) {
      notice(await errorText(response));
      setState("idle");
      return;
    }
    showOutcome(await response.text());
  }

  function follow(job) {
    const stream = $("stream");
    const source = new EventSource(withToken(`/api/jobs/${job}/events`));
    let sample = -1;
    source.addEventListener("token", (event) => {
      const data = JSON.parse(event.data);
      if (data.sample !== sample) {
        sample = data.sample;
        if (stream.textContent) stream.append(`\n--- sample ${sample + 1} ---\n`);
      }
      stream.append(data.text);
      $("stream-status").textContent = `(sample ${data.sample + 1}: ${data.tokens} tokens)`;
    });
    source.addEventListener("sample", (event) => {
      const data = JSON.parse(event.data);
      $("stream-status").textContent = `(sample ${data.sample + 1} done: ${data.tokens} tokens; checking)`;
    });
    source.addEventListener("done", () => {
      source.close();
      $("stream-title").textContent = "The model wrote";
      $("stream-status").textContent = $("stream-status").textContent.replace("; checking", "");
      $("stream-box").hidden = !stream.textContent;
      loadOutcome(job);
    });
    source.addEventListener("stopped", (event) => {
      source.close();
      notice(JSON.parse(event.data).error);
      setState("idle");
    });
    source.onerror = () => {
      source.close();
      notice("lost the connection to the server");
      setState("idle");
    };
  }

  $("solve-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    notice("");
    $("stream").textContent = "";
    $("stream-title").textContent = "The model is writing";
    $("stream-status").textContent = "(waiting for the model)";
    $("stream-box").hidden = false;
    setState("writing");
    let response;
    try {
      response = await post("/api/solve", { problem: $("problem").value, target: $("target").value });
    } catch (error) {
      notice(`the server cannot be reached: ${error}`);
      setState("idle");
      return;
    }
    if (!response.ok) {
      notice(await errorText(response));
      $("stream-box").hidden = true;
      setState("idle");
      return;
    }
    const data = await response.json();
    follow(data.job);
  });

  async function check(body) {
    notice("");
    setState("checking");
    let response;
    try {
      response = await post("/api/check", body);
    } catch (error) {
      notice(`the server cannot be reached: ${error}`);
      setState("idle");
      return;
    }
    if (!response.ok) {
      notice(await errorText(response));
      setState("idle");
      return;
    }
    $("stream-box").hidden = true;
    showOutcome(await response.text());
  }

  // A model file (LP, MPS or neurosym's .nsm) is read here as text; the server reads it with HiGHS.
  $("model-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const suffix = file.name.toLowerCase().split(".").pop();
    if (!["lp", "mps", "nsm"].includes(suffix)) {
      notice("a model file ends in .lp, .mps or .nsm");
      return;
    }
    $("target").value = "milp";
    check({ target: "milp", problem: "", text: await file.text(), format: suffix });
    event.target.value = "";
  });

  // The edit form arrives with each outcome (and the "model you wrote" form is on the page): one listener for all.
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!form.classList || !form.classList.contains("edit-form")) return;
    event.preventDefault();
    const own = form.id === "own-form";
    check({
      target: own ? $("target").value : form.dataset.target,
      problem: own ? "" : form.elements.problem.value,
      text: form.elements.text.value,
    });
  });
})();
