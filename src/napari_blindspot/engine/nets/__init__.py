"""Networks shared by the methods: the plain U-Net (N2V, N2V2, Noise2Noise) and its layers
(HQ-SSL's blind-spot network is :mod:`..methods.hqssl.blindspot`)."""
