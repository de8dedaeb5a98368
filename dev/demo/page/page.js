// The demo page: what the product's front end does with a job, with no build step. Everything it reads comes from
// the demo's own endpoints (dev/demo/page-server.ts); no credential reaches the browser.
'use strict';

// The front end's polling contract: the job row every 2 s until the job is completed or failed.
const POLL_MS = 2000;
const FINISHED = new Set(['completed', 'failed']);

const $ = (id) => document.getElementById(id);
let polling;

async function getJson(url, init) {
  const response = await fetch(url, init);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ?? `${url} answered ${response.status}`);
  return body;
}

function show(jobId, row) {
  $('job-id').textContent = jobId;
  $('status').textContent = row.job_status;
  $('status').dataset.status = row.job_status;
  $('prompt').textContent = row.prompt ?? '';
  const total = Math.max(row.total_images, 1);
  $('progress').max = total;
  $('progress').value = row.completed_images;
  $('counts').textContent = `${row.completed_images} of ${row.total_images} images made, ${row.failed_images} failed`;
  if (row.source_attach_id !== null && !$('source').getAttribute('src')) {
    $('source').src = `/attachments/${row.source_attach_id}`;
  }
  // The worker build Temporal says the workflow runs on: pinned to it under Worker Versioning, or unversioned.
  if (row.worker_build) {
    const { build_id: buildId, behavior } = row.worker_build;
    $('build').textContent = buildId
      ? `run by build ${buildId}${behavior ? `, ${behavior.toLowerCase().replace('_', '-')}` : ''}`
      : 'run by an unversioned worker';
    $('build').hidden = false;
  }
  if (row.workflow_url) {
    $('workflow').href = row.workflow_url;
    $('workflow').hidden = false;
  }
  // One image per id, added the moment its id shows up; ids never disappear from the row.
  const shown = new Set([...$('images').children].map((figure) => figure.dataset.attachId));
  for (const id of row.generated_attach_ids) {
    if (shown.has(String(id))) continue;
    const figure = document.createElement('figure');
    figure.dataset.attachId = String(id);
    const img = document.createElement('img');
    img.src = `/attachments/${id}`;
    img.alt = `generated image ${id}`;
    const caption = document.createElement('figcaption');
    caption.textContent = `attach ${id}`;
    figure.append(img, caption);
    $('images').append(figure);
  }
}

async function refreshLog() {
  const text = await (await fetch('/api/log')).text();
  const log = $('log');
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.textContent = text;
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function follow(jobId) {
  clearTimeout(polling);
  $('images').replaceChildren();
  $('source').removeAttribute('src');
  const tick = async () => {
    try {
      const row = await getJson(`/api/jobs/${encodeURIComponent(jobId)}`);
      show(jobId, row);
      await refreshLog();
      if (FINISHED.has(row.job_status)) return;
    } catch (error) {
      $('status').textContent = `cannot read the job: ${error.message}`;
    }
    polling = setTimeout(tick, POLL_MS);
  };
  void tick();
}

$('new-job').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('form-error').textContent = '';
  try {
    const { jobId } = await getJson('/api/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ quantity: Number($('quantity').value), prompt: $('prompt-input').value }),
    });
    history.pushState({ jobId }, '', `?job=${encodeURIComponent(jobId)}`);
    follow(jobId);
  } catch (error) {
    $('form-error').textContent = error.message;
  }
});

window.addEventListener('popstate', (event) => event.state?.jobId && follow(event.state.jobId));

(async () => {
  const jobId = new URLSearchParams(location.search).get('job') ?? (await getJson('/api/latest-job')).jobId;
  if (jobId) follow(jobId);
  else void refreshLog();
})();
