#!/usr/bin/env python3
"""A complete channel-moe worker for Gatehouse campaigns, in Python with NumPy only.

It speaks the worker protocol of docs/jobs.md over plain HTTP (urllib): claim a job, download its
input file, heartbeat with progress and ``metrics: {value}``, upload checkpoints and outputs,
complete (or fail). Bring your own minimiser by replacing :func:`minimize_output_entropy`.

Jobs (docs/campaigns.md):

* ``channel-moe.generate`` ``{d_in, d_out, n_kraus, mode: "haar", seed}``: a Haar-random isometry
  V: C^d_in -> C^(n_kraus*d_out) (QR of a complex Ginibre matrix with Mezzadri's phase fix),
  cut into n_kraus blocks of d_out rows; uploads ``kraus.npy`` (complex128,
  ``(n_kraus, d_out, d_in)``); result ``{kraus_file_id, completeness_deviation}``.
* ``channel-moe.minimize`` ``{kraus_file_id, seed, restarts, max_iterations, objective}``: the
  minimum output entropy in bits (``objective`` "max": the maximum over pure inputs) from
  ``restarts`` random starts; uploads the best vector (``(d_in,)``, complex128)
  as checkpoints and output; result ``{value, vector_file_id, iterations, restarts}``.

Usage::

    GATEHOUSE_API_KEY=gh_... python3 channel_moe_worker.py --server http://localhost:3000 [--queue campaigns]
        [--name NAME] [--exit-when-idle]

The API key needs the ``jobs:claim`` scope (a worker account's key). ``--exit-when-idle`` stops
after the first claim that finds no job (handy in scripts and tests). The seeds differ from the
TypeScript worker's generator (NumPy's PCG64), so runs are reproducible per worker implementation.
"""
import argparse
import io
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid

import numpy as np


class Aborted(Exception):
    """The server told us to stop the job (cancelled, or the lease is lost)."""


class Client:
    """The worker protocol's HTTP calls."""

    def __init__(self, server, api_key, name):
        self.server = server.rstrip("/")
        self.api_key = api_key
        self.name = name

    def _request(self, method, path, body=None, headers=None, raw=False):
        data = None
        all_headers = {"authorization": f"Bearer {self.api_key}"}
        if body is not None and not isinstance(body, bytes):
            data = json.dumps(body).encode()
            all_headers["content-type"] = "application/json"
        elif body is not None:
            data = body
        all_headers.update(headers or {})
        request = urllib.request.Request(self.server + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = response.read()
                if raw:
                    return response.status, payload
                return response.status, (json.loads(payload) if payload else None)
        except urllib.error.HTTPError as error:
            payload = error.read()
            try:
                problem = json.loads(payload)
            except ValueError:
                problem = {"detail": payload.decode(errors="replace")}
            return error.code, problem

    def claim(self, queue, kinds, wait_s):
        status, body = self._request("POST", "/api/v1/worker/claim", {"queues": [queue], "kinds": kinds, "wait_s": wait_s, "worker_name": self.name})
        if status == 204:
            return None
        if status != 200:
            raise RuntimeError(f"claim refused: {status} {body}")
        return body

    def heartbeat(self, job_id, attempt, progress=None, message=None, metrics=None):
        body = {"attempt": attempt}
        if progress is not None:
            body["progress"] = max(0.0, min(1.0, progress))
        if message is not None:
            body["message"] = message[:1000]
        if metrics is not None:
            body["metrics"] = metrics
        status, answer = self._request("POST", f"/api/v1/worker/jobs/{job_id}/heartbeat", body)
        if status != 200:
            raise Aborted(f"heartbeat refused: {status} {answer.get('code') if answer else ''}")
        return answer["command"]

    def download(self, file_id):
        status, payload = self._request("GET", f"/api/v1/files/{file_id}", raw=True)
        if status != 200:
            raise RuntimeError(f"download of {file_id} failed: {status}")
        return payload

    def upload(self, job_id, attempt, purpose, name, content):
        boundary = uuid.uuid4().hex
        parts = []
        for field, value in (("purpose", purpose), ("job_id", job_id), ("attempt", str(attempt))):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'.encode())
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        status, body = self._request("POST", "/api/v1/files", b"".join(parts), {"content-type": f"multipart/form-data; boundary={boundary}"})
        if status != 201:
            raise Aborted(f"upload refused: {status} {body}")
        return body["id"]

    def complete(self, job_id, attempt, result, output_files):
        for _ in range(60):
            status, body = self._request("POST", f"/api/v1/worker/jobs/{job_id}/complete", {"attempt": attempt, "result": result, "output_files": output_files})
            if status == 200:
                return
            if status == 409 and body.get("code") == "job_paused":
                self.wait_while_paused(job_id, attempt)
                continue
            if status >= 500:
                time.sleep(1)
                continue
            raise RuntimeError(f"complete refused: {status} {body}")
        raise RuntimeError("complete kept failing")

    def fail(self, job_id, attempt, message, retryable):
        self._request("POST", f"/api/v1/worker/jobs/{job_id}/fail", {"attempt": attempt, "error": {"message": message[:4000]}, "retryable": retryable})

    def wait_while_paused(self, job_id, attempt):
        while True:
            command = self.heartbeat(job_id, attempt)
            if command == "cancel":
                raise Aborted("cancelled")
            if command == "continue":
                return
            time.sleep(2)


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype=np.complex128))
    return buffer.getvalue()


def haar_channel(d_in, d_out, n_kraus, seed):
    """Kraus operators (n_kraus, d_out, d_in) of a Haar-random isometry (Mezzadri 2007)."""
    rng = np.random.default_rng(seed)
    rows = n_kraus * d_out
    g = (rng.standard_normal((rows, d_in)) + 1j * rng.standard_normal((rows, d_in))) / np.sqrt(2)
    q, r = np.linalg.qr(g)
    q = q * (np.diag(r) / np.abs(np.diag(r)))  # the phase fix: R's diagonal made positive
    return q.reshape(n_kraus, d_out, d_in)


def entropy_bits(eigenvalues):
    ev = eigenvalues[eigenvalues > 0]
    return float(max(0.0, -(ev * np.log2(ev)).sum()))


def output_state(kraus, psi):
    w = np.stack([k @ psi for k in kraus], axis=1)
    return w @ w.conj().T


def entropy_and_gradient(kraus, psi):
    """S(Phi(psi psi*)) in bits and its Riemannian gradient at the unit vector psi.

    Euclidean gradient (real inner product Re<a, b>): -(2/ln 2) sum_i K_i^+ U diag(ln l + 1) U^+ K_i psi
    for rho = U diag(l) U^+, eigenvalues clipped at 1e-300 (the derivative of -l ln l); projected
    by (I - psi psi^+) onto the tangent space of the sphere (which also drops the phase direction).
    """
    ev, u = np.linalg.eigh(output_state(kraus, psi))
    weight = np.log(np.maximum(ev, 1e-300)) + 1.0
    g = sum(k.conj().T @ (u @ (weight * (u.conj().T @ (k @ psi)))) for k in kraus) * (-2.0 / np.log(2.0))
    return entropy_bits(ev), g - psi * np.vdot(psi, g)


def minimize_output_entropy(kraus, restarts, max_iterations, seed, on_restart, objective="min"):
    """Riemannian steepest descent on the unit sphere with Armijo backtracking and the retraction
    psi -> (psi + t d)/|psi + t d| (Absil, Mahony & Sepulchre, "Optimization Algorithms on Matrix
    Manifolds", 2008, sections 3.6 and 4.2), from ``restarts`` random starts. ``objective`` "max"
    runs the same search on -S. Returns (value in bits, vector, iterations)."""
    sign = -1.0 if objective == "max" else 1.0
    rng = np.random.default_rng(seed)
    d_in = kraus.shape[2]
    best = (None, None)
    iterations = 0
    for restart in range(restarts):
        psi = rng.standard_normal(d_in) + 1j * rng.standard_normal(d_in)
        psi /= np.linalg.norm(psi)
        value, grad = entropy_and_gradient(kraus, psi)
        grad = sign * grad
        t = 1.0
        stalls = 0
        for _ in range(max_iterations):
            g2 = float(np.vdot(grad, grad).real)
            if g2 <= 1e-18:
                break
            iterations += 1
            t = min(2.0 * t, 1e6)
            while True:
                candidate = psi - t * grad
                candidate /= np.linalg.norm(candidate)
                c_value, c_grad = entropy_and_gradient(kraus, candidate)
                if sign * c_value <= sign * value - 1e-4 * t * g2 or t * g2 < 1e-16:
                    break
                t *= 0.5
            if sign * c_value > sign * value:
                break
            stalls = stalls + 1 if abs(value - c_value) < 1e-13 else 0
            psi, value, grad = candidate, c_value, sign * c_grad
            if stalls >= 3:
                break
        improved = best[0] is None or sign * value < sign * best[0]
        if improved:
            best = (value, psi)
        on_restart(restart + 1, restarts, best[0], best[1], improved)
    return best[0], best[1], iterations


def run_generate(client, job, attempt):
    p = job["payload"]
    kraus = haar_channel(p["d_in"], p["d_out"], p["n_kraus"], p["seed"])
    deviation = float(np.abs(sum(k.conj().T @ k for k in kraus) - np.eye(p["d_in"])).max())
    file_id = client.upload(job["id"], attempt, "output", "kraus.npy", npy_bytes(kraus))
    return {"kraus_file_id": file_id, "completeness_deviation": deviation}, [file_id]


def run_minimize(client, job, attempt):
    p = job["payload"]
    kraus = np.load(io.BytesIO(client.download(p["kraus_file_id"])))
    if kraus.ndim != 3:
        raise ValueError(f"Kraus file has shape {kraus.shape}")

    def on_restart(restart, restarts, value, vector, improved):
        if improved:
            client.upload(job["id"], attempt, "checkpoint", "vector.npy", npy_bytes(vector))
        command = client.heartbeat(job["id"], attempt, restart / restarts, f"start {restart}/{restarts}: best {value:.9f} bits", {"value": value})
        if command == "cancel":
            raise Aborted("cancelled")
        if command == "pause":
            client.wait_while_paused(job["id"], attempt)

    objective = p.get("objective", "min")
    value, vector, iterations = minimize_output_entropy(kraus.astype(np.complex128), p["restarts"], p["max_iterations"], p["seed"], on_restart, objective)
    file_id = client.upload(job["id"], attempt, "output", "vector.npy", npy_bytes(vector))
    return {"value": value, "vector_file_id": file_id, "iterations": iterations, "restarts": p["restarts"]}, [file_id]


HANDLERS = {"channel-moe.generate": run_generate, "channel-moe.minimize": run_minimize}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=os.environ.get("GATEHOUSE_SERVER"), help="Gatehouse base URL (or GATEHOUSE_SERVER)")
    parser.add_argument("--queue", default="campaigns")
    parser.add_argument("--name", default=f"python-{socket.gethostname()}-{os.getpid()}")
    parser.add_argument("--wait-seconds", type=int, default=25)
    parser.add_argument("--exit-when-idle", action="store_true")
    args = parser.parse_args(argv)
    api_key = os.environ.get("GATEHOUSE_API_KEY")
    if not args.server or not api_key:
        parser.error("give --server (or GATEHOUSE_SERVER) and set GATEHOUSE_API_KEY")
    client = Client(args.server, api_key, args.name)
    done = 0
    while True:
        claimed = client.claim(args.queue, list(HANDLERS), 0 if args.exit_when_idle else args.wait_seconds)
        if claimed is None:
            if args.exit_when_idle:
                print(f"idle after {done} jobs", flush=True)
                return 0
            continue
        job, attempt = claimed["job"], claimed["attempt"]
        try:
            result, outputs = HANDLERS[job["kind"]](client, job, attempt)
            client.complete(job["id"], attempt, result, outputs)
            done += 1
            print(f"{job['kind']} {job['id']}: {json.dumps(result)}", flush=True)
        except Aborted as stop:
            print(f"{job['kind']} {job['id']}: stopped ({stop})", flush=True)
        except Exception as error:  # a bad input or a bug: report it, keep serving
            client.fail(job["id"], attempt, f"{type(error).__name__}: {error}", retryable=False)
            print(f"{job['kind']} {job['id']}: failed ({error})", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
