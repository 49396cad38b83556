"""Accuracy study of the data market's split CNN on real MNIST (plain numpy market, no chain).

Per round every DO computes :func:`local_update`, quantises it with
``packing.quantise``, DOs are cut into groups of ``--group`` (a fixed random
partition), the group sums are combined exactly as ``finalize`` does (integer
``trunc(S_g * 2**8 / n_g)`` summed over kept groups, truncating division by the
number kept) and every party applies ``aggregate / (q_scale * 2**8)``.
Optionally ``--malicious`` of the DOs attack, and the round keeps either every
group (plain averaging) or the groups Multi-Krum keeps (``f`` = the number of
groups holding an attacker, as the MO would declare ``byzantine_groups``).

    .venv/bin/python bench/data_market_study.py                       # the recommended defaults
    .venv/bin/python bench/data_market_study.py --owners 20 --malicious 0.2 --attack sign_flip --filter krum

Measured (seed 0, medium, 2,000 samples per DO, MO 100 samples, 5 rounds, 10k test set; the
MO's before model 85.9%): 20 DOs honest 92.4%; with 4 attackers (20%, in 3 of the 7 groups),
attack_scale 10: sign_flip plain mean 9.8% (the public part blows up), Multi-Krum (f=3) 92.1%
(keeps exactly the 4 clean groups, same as dropping the bad groups); scaled_noise plain mean
90.4%, Multi-Krum 92.1%. With 15 DOs (5 groups) the 3 attackers hit 3 groups: V=5 < f+3, so
Multi-Krum keeps nothing and the public part never moves (after = 82.8%, head-only on the
random initial part). Honest updates: max |u| 0.28-0.77.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from ledgerlearn.datasets import load
from ledgerlearn.markets.data import model as m
from ledgerlearn.markets.data.packing import MAX_Q_CLIP, MEAN_FRAC_BITS, quantise


#: The recommended scenario (this study's defaults): 10 DOs with 2,000 samples of two
#: classes each, 5 rounds, an MO with 200 private samples: about 92.5% after (see above), about
#: 6 s per round for 10 DOs on 2 idle cores (0.6 s per DO update, 2 torch threads; wall time
#: grows linearly with DOs: 12.6 s per round for 20), under a minute for the whole run.
DEFAULT_OWNERS = 10
DEFAULT_SAMPLES_PER_OWNER = 2000
DEFAULT_ROUNDS = 5
DEFAULT_MO_SAMPLES = 200

def multi_krum(means: np.ndarray, f: int) -> list[int]:
    """Indices Multi-Krum keeps (docs/data-market.md): V-f lowest scores, score = sum of sq. distances to V-f-2 nearest."""
    v = len(means)
    if f <= 0:
        return list(range(v))
    if v < f + 3:
        return []
    d = ((means[:, None, :] - means[None, :, :]) ** 2).sum(-1)
    scores = []
    for i in range(v):
        others = np.sort(np.delete(d[i], i))
        scores.append(others[: v - f - 2].sum())
    order = sorted(range(v), key=lambda i: (scores[i], i))
    return sorted(order[: v - f])


def aggregate(q: list[np.ndarray], groups: list[list[int]], keep: list[int], q_scale: int) -> np.ndarray:
    """The contract's aggregate (floats), from quantised updates."""
    if not keep:
        return np.zeros_like(q[0], dtype=np.float64)
    acc = np.zeros_like(q[0], dtype=np.int64)
    for g in keep:
        s = np.sum([q[i] for i in groups[g]], axis=0).astype(np.int64)
        n = len(groups[g])
        num = s << MEAN_FRAC_BITS
        acc += np.sign(num) * (np.abs(num) // n)  # truncating division
    agg = np.sign(acc) * (np.abs(acc) // len(keep))
    return agg.astype(np.float64) / (q_scale * (1 << MEAN_FRAC_BITS))


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    d = load("mnist", progress=False)
    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(len(d.y_train))
    mo_idx = perm[: args.mo_samples]
    rest = perm[args.mo_samples :]
    parts = m.non_iid_split(d.y_train[rest], args.owners, args.classes, seed=args.seed, samples_per_owner=args.samples)
    owners = [rest[p] for p in parts]
    xt, yt = d.x_test, d.y_test
    if args.test_size:
        xt, yt = xt[: args.test_size], yt[: args.test_size]
    training = m.LocalTraining(
        epochs=args.epochs, lr=args.lr, batch_size=args.batch, max_steps=args.max_steps,
        momentum=args.momentum, train_head=args.train_head, head_lr=args.head_lr,
        local_classes_only=args.local_classes,
    )

    t0 = time.perf_counter()
    mo = m.OwnerModel(args.arch, d.x_train[mo_idx], d.y_train[mo_idx], seed=args.seed)
    published = mo.fit_initial()
    before = mo.accuracy(xt, yt)
    t_before = time.perf_counter() - t0

    random_public = m.initial_public_part(args.arch, args.seed)
    probe = m.OwnerModel(args.arch, d.x_train[mo_idx], d.y_train[mo_idx], seed=args.seed)
    probe.fine_tune(random_public)
    random_head_only = probe.accuracy(xt, yt)
    probe.fine_tune(published)
    own_public_head_only = probe.accuracy(xt, yt)

    public = published if args.init == "owner" else random_public
    n_bad = int(round(args.malicious * args.owners))
    bad = set(rng.choice(args.owners, size=n_bad, replace=False).tolist()) if n_bad else set()
    gperm = rng.permutation(args.owners)
    groups = [sorted(gperm[s : s + args.group].tolist()) for s in range(0, args.owners, args.group)]
    bad_groups = [g for g, members in enumerate(groups) if bad & set(members)]
    f = 0
    if args.filter == "krum":
        f = len(bad_groups) if args.byzantine_groups is None else args.byzantine_groups
    max_abs, round_s, round_cpu, history, kept_log = 0.0, [], [], [], []
    for r in range(args.rounds):
        t, c = time.perf_counter(), time.process_time()
        ups = []
        for i, idx in enumerate(owners):
            attack = args.attack if i in bad else None
            u = m.local_update(args.arch, public, args.head_seed, d.x_train[idx], d.y_train[idx], training,
                               attack=attack, attack_scale=args.attack_scale, seed=args.seed * 1000 + r * 100 + i)
            if i not in bad:
                max_abs = max(max_abs, float(np.abs(u).max()))
            ups.append(u)
        q = [quantise(u, args.q_scale, args.q_clip) for u in ups]
        means = np.stack([np.mean([q[i] for i in g], axis=0) for g in groups]).astype(np.float64)
        if args.filter == "oracle":
            keep = [g for g in range(len(groups)) if g not in bad_groups]
        else:
            keep = multi_krum(means, f)
        kept_log.append(keep)
        public = m.apply_aggregate(public, aggregate(q, groups, keep, args.q_scale))
        round_s.append(time.perf_counter() - t)
        round_cpu.append(time.process_time() - c)
        if args.track:
            probe.fine_tune(public)
            history.append(round(probe.accuracy(xt, yt), 4))
    if args.save:
        np.save(args.save, public)
    mo.fine_tune(public)
    after = mo.accuracy(xt, yt)
    return {
        "arch": args.arch, "owners": args.owners, "samples": args.samples, "rounds": args.rounds,
        "mo_samples": args.mo_samples, "init": args.init, "train_head": args.train_head, "local_classes": args.local_classes,
        "epochs": args.epochs, "lr": args.lr, "batch": args.batch, "max_steps": args.max_steps,
        "attack": args.attack if n_bad else None, "malicious": sorted(bad), "bad_groups": bad_groups,
        "filter": args.filter, "f": f, "groups": groups, "kept_last": kept_log[-1] if kept_log else None,
        "before": round(before, 4), "after": round(after, 4),
        "random_public_head_only": round(random_head_only, 4), "own_public_head_only": round(own_public_head_only, 4),
        "history": history, "max_abs_honest_update": round(max_abs, 5),
        "round_s_mean": round(float(np.mean(round_s)), 3) if round_s else None,
        "round_cpu_s_mean": round(float(np.mean(round_cpu)), 3) if round_cpu else None,
        "before_fit_s": round(t_before, 2), "threads": args.threads, "seed": args.seed,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default=m.DEFAULT_ARCH, choices=sorted(m.ARCHITECTURES))
    p.add_argument("--owners", type=int, default=DEFAULT_OWNERS)
    p.add_argument("--classes", type=int, default=2)
    p.add_argument("--samples", type=int, default=DEFAULT_SAMPLES_PER_OWNER, help="samples per DO")
    p.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    p.add_argument("--mo-samples", type=int, default=DEFAULT_MO_SAMPLES)
    p.add_argument("--init", choices=["owner", "random"], default="random")
    p.add_argument("--save", help="write the final public part here (.npy)")
    p.add_argument("--head-seed", type=int, default=7)
    p.add_argument("--epochs", type=int, default=m.DEFAULT_TRAINING.epochs)
    p.add_argument("--lr", type=float, default=m.DEFAULT_TRAINING.lr)
    p.add_argument("--batch", type=int, default=m.DEFAULT_TRAINING.batch_size)
    p.add_argument("--max-steps", type=int, default=m.DEFAULT_TRAINING.max_steps)
    p.add_argument("--momentum", type=float, default=m.DEFAULT_TRAINING.momentum)
    p.add_argument("--train-head", action=argparse.BooleanOptionalAction, default=m.DEFAULT_TRAINING.train_head)
    p.add_argument("--local-classes", action=argparse.BooleanOptionalAction,
                   default=m.DEFAULT_TRAINING.local_classes_only)
    p.add_argument("--head-lr", type=float, default=m.DEFAULT_TRAINING.head_lr)
    p.add_argument("--group", type=int, default=3)
    p.add_argument("--q-scale", type=int, default=m.DEFAULT_Q_SCALE)
    p.add_argument("--q-clip", type=int, default=m.DEFAULT_Q_CLIP)
    p.add_argument("--malicious", type=float, default=0.0, help="fraction of attacking DOs")
    p.add_argument("--attack", choices=m.ATTACKS, default="sign_flip")
    p.add_argument("--attack-scale", type=float, default=10.0)
    p.add_argument("--byzantine-groups", type=int, help="Multi-Krum's f (default: the number of groups with an attacker)")
    p.add_argument("--filter", choices=["none", "krum", "oracle"], default="none")
    p.add_argument("--track", action="store_true", help="MO head-only accuracy after every round")
    p.add_argument("--test-size", type=int, default=0, help="0: the full 10k test set")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    assert args.q_clip <= MAX_Q_CLIP
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
