#!/usr/bin/env python3
"""A Gatehouse challenge evaluator in Python, using only `requests`.

It speaks the HTTP worker protocol (docs/jobs.md) and scores `score-predictions` evaluation jobs
exactly as the built-in evaluator does (docs/challenges.md): the submission's first file and the
challenge's first hidden reference, both CSV `id,label` with a header, give

    accuracy = correct / n            (n = reference rows; a missing id counts as wrong)
    macro_f1 = mean over reference labels of 2*TP / (2*TP + FP + FN)

and the job's result is {"scores": {"accuracy", "macro_f1"}, "details": {"n", "missing", "extra"}}.
A malformed CSV fails the job for good (`retryable: false`) with a message naming the line.

Environment:
    GATEHOUSE_SERVER   base URL, e.g. http://localhost:3000
    GATEHOUSE_API_KEY  an API key with the jobs:claim scope (the worker's identity)
    EVALUATOR_QUEUE    queue to claim from (default: evaluations)
    EVALUATOR_KIND     job kind to claim (default: score-predictions)

Usage:
    python3 evaluator.py            # run until Ctrl-C
    python3 evaluator.py --once     # exit once the queue has nothing to claim (scripts, tests)
"""

import csv
import io
import os
import sys
import threading
import time

import requests

SERVER = os.environ.get("GATEHOUSE_SERVER", "http://localhost:3000").rstrip("/")
API_KEY = os.environ["GATEHOUSE_API_KEY"]
QUEUE = os.environ.get("EVALUATOR_QUEUE", "evaluations")
KIND = os.environ.get("EVALUATOR_KIND", "score-predictions")
WAIT_SECONDS = 5

session = requests.Session()
session.headers["Authorization"] = "Bearer " + API_KEY


class Malformed(Exception):
    """A submission that cannot be scored: retrying would not help."""


def api(method, path, body=None, expect=(200,)):
    """One call to the API; retries 5xx and connection errors (a 503 job_hook_failed is transient)."""
    for delay in (0.2, 0.5, 1, 2, 4, 8):
        try:
            res = session.request(method, SERVER + path, json=body, timeout=WAIT_SECONDS + 30)
        except requests.ConnectionError:
            time.sleep(delay)
            continue
        if res.status_code >= 500:
            time.sleep(delay)
            continue
        if res.status_code not in expect:
            raise RuntimeError(f"{method} {path}: {res.status_code} {res.text[:500]}")
        return res
    raise RuntimeError(f"{method} {path}: the server kept failing")


def parse_labels(text, name):
    """id -> label from an `id,label` CSV with a header. Raises Malformed naming the line."""
    rows = {}
    header = False
    for line_no, fields in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"))), start=1):
        if not fields or all(not f.strip() for f in fields):
            continue
        if not header:
            if [f.strip().lower() for f in fields] != ["id", "label"]:
                raise Malformed(f"{name}, line {line_no}: the header must be \"id,label\"")
            header = True
            continue
        if len(fields) != 2:
            raise Malformed(f"{name}, line {line_no}: expected 2 fields (id,label), found {len(fields)}")
        key, label = fields[0].strip(), fields[1].strip()
        if not key:
            raise Malformed(f"{name}, line {line_no}: the id is empty")
        if key in rows:
            raise Malformed(f"{name}, line {line_no}: the id \"{key}\" appears twice")
        rows[key] = label
    if not header:
        raise Malformed(f"{name}, line 1: the file is empty (expected the header \"id,label\")")
    return rows


def score(predictions, references):
    """Accuracy and macro F1 over the reference labels, with counts of missing and extra ids."""
    n = len(references)
    if n == 0:
        raise Malformed("reference: the reference file has no rows")
    labels = set(references.values())
    tp, fp, fn = {}, {}, {}
    correct = missing = 0
    for key, truth in references.items():
        guess = predictions.get(key)
        if guess is None:
            missing += 1
            fn[truth] = fn.get(truth, 0) + 1
        elif guess == truth:
            correct += 1
            tp[truth] = tp.get(truth, 0) + 1
        else:
            fn[truth] = fn.get(truth, 0) + 1
            fp[guess] = fp.get(guess, 0) + 1
    extra = sum(1 for key in predictions if key not in references)
    f1 = [2 * tp.get(l, 0) / (2 * tp.get(l, 0) + fp.get(l, 0) + fn.get(l, 0)) for l in labels]
    return {"scores": {"accuracy": correct / n, "macro_f1": sum(f1) / len(labels)}, "details": {"n": n, "missing": missing, "extra": extra}}


def download(file_id):
    """A file the held job may read (its input files; the challenge's hidden reference)."""
    return api("GET", f"/api/v1/files/{file_id}").content.decode("utf-8")


def evaluate(job, attempt):
    """Runs one job: heartbeats keep the lease while it works; completes or fails it."""
    job_id = job["id"]
    stop = threading.Event()

    def beat(progress=None, message=None):
        body = {"attempt": attempt}
        if progress is not None:
            body["progress"] = progress
        if message is not None:
            body["message"] = message
        return api("POST", f"/api/v1/worker/jobs/{job_id}/heartbeat", body).json()

    def keep_alive():
        while not stop.wait(10):
            if beat().get("command") == "cancel":
                return

    threading.Thread(target=keep_alive, daemon=True).start()
    try:
        payload = job.get("payload") or {}
        files, references = payload.get("files") or [], payload.get("references") or []
        beat(0.1, "downloading")
        if not files:
            raise Malformed("The submission has no file to score.")
        if not references:
            raise Malformed("The challenge has no hidden reference resource to score against.")
        predictions = parse_labels(download(files[0]), "submission")
        reference = parse_labels(download(references[0]), "reference")
        beat(0.5, "scoring")
        result = score(predictions, reference)
        api("POST", f"/api/v1/worker/jobs/{job_id}/complete", {"attempt": attempt, "result": result})
        print(f"{job_id}: accuracy {result['scores']['accuracy']:.4f}", flush=True)
    except Malformed as error:
        api("POST", f"/api/v1/worker/jobs/{job_id}/fail", {"attempt": attempt, "error": {"message": f"Malformed CSV: {error}"}, "retryable": False})
        print(f"{job_id}: failed: {error}", flush=True)
    finally:
        stop.set()


def main():
    once = "--once" in sys.argv[1:]
    print(f"evaluator claiming {KIND} jobs from {QUEUE} at {SERVER}", flush=True)
    while True:
        res = api("POST", "/api/v1/worker/claim", {"queues": [QUEUE], "kinds": [KIND], "wait_s": 0 if once else WAIT_SECONDS}, expect=(200, 204))
        if res.status_code == 204:
            if once:
                return
            continue
        claimed = res.json()
        evaluate(claimed["job"], claimed["attempt"])


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
