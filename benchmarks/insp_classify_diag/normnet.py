import torch
from torch import nn
from inrkit.insp.classify import INSPConvNet, tanh_jet2
from inrkit.ops.taylor import multi_indices

ORD4 = torch.tensor([sum(j) for j in multi_indices(2, 4)])
ORD2 = torch.tensor([sum(j) for j in multi_indices(2, 2)])

class NormINSP(INSPConvNet):
    """c: per-order scale of Phi's jet (5,), d: per-order scale of h1's partials (3,)"""
    def set_scales(self, J, mode="data"):
        idx = multi_indices(2, 4)
        c = torch.stack([J[..., ORD4 == k].pow(2).mean().sqrt() for k in range(5)])
        self.c = c
        self.d = torch.ones(3)
        if mode == "data":
            with torch.no_grad():
                H = self.hidden(J[:256])
                self.d = torch.stack([H[..., ORD2 == k].pow(2).mean().sqrt() for k in range(3)])
        elif mode == "ratio":
            self.d = torch.stack([c[k] / c[0] for k in range(3)])
        print("c", [round(float(v), 3) for v in c], "d", [round(float(v), 3) for v in self.d])
        return self

    def hidden(self, J):
        G = J[..., self.index]  # (B,P,6a,6b)
        w = self.w1[:, 0] / self.c[ORD2]  # (C1, 6a)
        DL = torch.einsum("npab,ka->npkb", G, w)
        DL = torch.cat([DL[..., :1] + self.b1[:, None], DL[..., 1:]], -1)
        return tanh_jet2(DL)

    def forward(self, J):
        H = self.hidden(J)
        w2 = self.w2 / self.d[ORD2]
        h2 = torch.tanh(torch.einsum("npca,kca->npk", H, w2) + self.b2)
        return self.head(h2)
