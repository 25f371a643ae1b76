#!/usr/bin/python3
"""compare_safetensors.py A B — the largest element-wise difference between two
safetensors files of the same model (float32), per tensor, and without the key
third of every attention qkv bias (whose exact gradient is 0: see
results/data_parallel.md)."""
import json, struct, sys, array
def load(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n]); base = 8 + n; out = {}
    for k, v in h.items():
        if k == '__metadata__': continue
        s, e = v['data_offsets']; a = array.array('f'); a.frombytes(b[base+s:base+e]); out[k] = a
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
worst = max(max(abs(x - y) for x, y in zip(a[k], b[k])) for k in a)
scale = max(max(abs(x) for x in a[k]) for k in a)
print(f"tensors {len(a)}, max |w1 - w2| = {worst:.3g}, max |w| = {scale:.3g}")
rows = sorted(((max(abs(x - y) for x, y in zip(a[k], b[k])), k) for k in a), reverse=True)[:6]
for d, k in rows: print(f"  {k}: {d:.3g}")
def excl(k, arr):
    if k.endswith('attn.qkv.bias'):
        c = len(arr) // 3
        return list(arr[:c]) + list(arr[2*c:])
    return list(arr)
w = max(max(abs(x - y) for x, y in zip(excl(k, a[k]), excl(k, b[k]))) for k in a)
kb = max(max(abs(x - y) for x, y in zip(a[k][len(a[k])//3:2*len(a[k])//3], b[k][len(b[k])//3:2*len(b[k])//3])) for k in a if k.endswith('attn.qkv.bias'))
print(f"without the key third of the qkv biases: max |w1 - w2| = {w:.3g}; key biases alone: {kb:.3g}")
