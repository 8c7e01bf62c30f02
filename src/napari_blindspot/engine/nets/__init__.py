"""Networks: the plain U-Net (N2V, N2V2, Noise2Noise) and the HQ-SSL blind-spot network."""
