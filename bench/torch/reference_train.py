"""The bridge's CNN in PyTorch: times training (and prediction) on random 64x64 batches, printing reference.cpp's line.

Usage: .venv/bin/python reference_train.py IMAGES BATCH THREADS [WIDTH BLOCKS CONVS SIDE]
"""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = 20


def network(width, blocks, convs, side):
    layers, cin, cout = [], 3, width
    for _ in range(blocks):
        for _ in range(convs):
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        layers.append(nn.MaxPool2d(2))
        cout *= 2
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(cin, CLASSES)]
    net = nn.Sequential(*layers)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return net


def one_cycle(step, total, peak=3e-3):
    """Linear warm-up over the first 30% to the peak, cosine down after; beta1 moves the other way."""
    warm = max(1, int(0.3 * total))
    if step < warm:
        t = step / warm
        return peak * (0.04 + 0.96 * t), 0.95 - 0.1 * t
    t = (step - warm) / max(1, total - warm)
    c = 0.5 * (1 + math.cos(math.pi * t))
    return peak * c + 1e-6, 0.85 + 0.1 * (1 - c)


MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
SCALE = 1 / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def augment(x, pad=4, brightness=0.2, contrast=0.2):
    n, side = x.shape[0], x.shape[2]
    r = torch.rand(n, 5)
    x = torch.where((r[:, 0] < 0.5).view(n, 1, 1, 1), x.flip(3), x)
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    span = 2 * pad + 1
    x = torch.stack([padded[i, :, min(2 * pad, int(r[i, 2] * span)):][:, :side, min(2 * pad, int(r[i, 1] * span)):][:, :, :side]
                     for i in range(n)])
    x = x * (1 + brightness * (2 * r[:, 3] - 1)).view(n, 1, 1, 1)
    grey = (x[:, 0] * 0.299 + x[:, 1] * 0.587 + x[:, 2] * 0.114).mean((1, 2)).view(n, 1, 1, 1)
    x = ((x - grey) * (1 + contrast * (2 * r[:, 4] - 1)).view(n, 1, 1, 1) + grey).clamp(0, 1)
    return (x - MEAN) * SCALE


def report(what, width, blocks, convs, side, batch, threads, images, seconds):
    print(f"{what:<8} cnn side {side} width {width} blocks {blocks} convs {convs} batch {batch} threads {threads}: "
          f"{images / seconds:.1f} images/s ({images} images in {seconds:.2f} s)", flush=True)


def main():
    args = [int(a) for a in sys.argv[1:]]
    images, batch, threads = (args + [1000, 32, 2][len(args):])[:3]
    width, blocks, convs, side = (args[3:] + [16, 5, 1, 64][len(args[3:]):])[:4]
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    pool = 256
    x_pool = torch.rand(pool, 3, side, side)
    y_pool = torch.randint(0, CLASSES, (pool,))
    # NHWC, as the bridge uses: oneDNN's native layout.
    net = network(width, blocks, convs, side).to(memory_format=torch.channels_last)
    decay = [p for p in net.parameters() if p.dim() > 1]
    no_decay = [p for p in net.parameters() if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)
    steps, warmup = (images + batch - 1) // batch, 3
    net.train()
    offset = 0
    for s in range(-warmup, steps):
        if s == 0:
            start = time.perf_counter()
        if offset + batch > pool:
            offset = 0
        lr, beta1 = one_cycle(max(0, s), steps)
        for g in opt.param_groups:
            g["lr"], g["betas"] = lr, (beta1, 0.999)
        x = augment(x_pool[offset:offset + batch]).contiguous(memory_format=torch.channels_last)
        y = y_pool[offset:offset + batch]
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y, label_smoothing=0.1)
        loss.backward()
        opt.step()
        loss.item()
        offset += batch
    report("pytorch", width, blocks, convs, side, batch, threads, steps * batch, time.perf_counter() - start)

    # Prediction in chunks of 32 as the bridge does.
    net.eval()
    with torch.inference_mode():
        def predict_all():
            for i in range(0, pool, 32):
                torch.softmax(net(((x_pool[i:i + 32] - MEAN) * SCALE).contiguous(memory_format=torch.channels_last)), 1)
        predict_all()
        start, done = time.perf_counter(), 0
        while done < max(images, pool):
            predict_all()
            done += pool
        report("pt-pred", width, blocks, convs, side, batch, threads, done, time.perf_counter() - start)


if __name__ == "__main__":
    main()
