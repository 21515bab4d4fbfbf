/* pow_lanes.h: the PoW trial over many nonces at once, written once for every ISA.
 *
 * Theory of operation.  A trial is one SHA-512 compression of the block
 * (nonce, h1[0..7], 0x80.., 0, .., 576) from the IV, and only the first output
 * word matters.  Each lane holds a different nonce; SC_IL independent vectors
 * are processed side by side so an out-of-order core always has independent
 * work (one SHA-512 chain alone is a long dependency chain).  Work saved
 * compared with a generic compression (constants precomputed in sc_pow_ctx):
 *   - round 0 is two additions (the state before it is the IV);
 *   - rounds 1..15 add a precomputed K[t] + W[t];
 *   - W17, W19, W21 are constants, W16..W30 have constant parts folded;
 *   - the last round computes only the new `a` (dead-code elimination).
 *
 * The including file defines, then includes this header:
 *   SC_V                  the vector type (uint64_t for the portable kernel)
 *   SC_LANES, SC_IL       nonces per vector, vectors interleaved per step
 *   SC_KERNEL_NAME        the function to define (an sc_pow_scan_fn)
 *   V_SET1(x)             broadcast a uint64_t
 *   V_ADD, V_XOR, V_AND, V_OR (a, b)
 *   V_ROTR(x, n), V_SHR(x, n)     right rotate / shift by a constant
 *   V_NONCES(base)        lanes hold base, base + 1, ..., base + SC_LANES - 1
 *   V_HITMASK(v, target)  bit i set when lane i of v < target (unsigned)
 * and optionally V_XOR3, V_CH, V_MAJ, V_SSIG0 ... when the ISA does better
 * than the generic definitions below.  SC_KERNEL_ATTR may carry a target
 * attribute for the function. */

#ifndef V_XOR3
#define V_XOR3(a, b, c) V_XOR(V_XOR(a, b), c)
#endif
#ifndef V_CH
#define V_CH(e, f, g) V_XOR(g, V_AND(e, V_XOR(f, g)))
#endif
#ifndef V_MAJ
/* b ^ ((a ^ b) & (b ^ c)): this round's a ^ b is the next round's b ^ c, which the
 * compiler reuses (the rotation is by renaming), so Maj costs 3 operations. */
#define V_MAJ(a, b, c) V_XOR((b), V_AND(V_XOR((a), (b)), V_XOR((b), (c))))
#endif
#ifndef V_BSIG0
#define V_BSIG0(x) V_XOR3(V_ROTR(x, 28), V_ROTR(x, 34), V_ROTR(x, 39))
#endif
#ifndef V_BSIG1
#define V_BSIG1(x) V_XOR3(V_ROTR(x, 14), V_ROTR(x, 18), V_ROTR(x, 41))
#endif
#ifndef V_SSIG0
#define V_SSIG0(x) V_XOR3(V_ROTR(x, 1), V_ROTR(x, 8), V_SHR(x, 7))
#endif
#ifndef V_SSIG1
#define V_SSIG1(x) V_XOR3(V_ROTR(x, 19), V_ROTR(x, 61), V_SHR(x, 6))
#endif
#ifndef SC_KERNEL_ATTR
#define SC_KERNEL_ATTR
#endif

/* One round on all SC_IL vectors.  State slots are named by index so the
 * 8-round rotation costs no moves: slot (k - r) & 7 holds word k at rotation r. */
#define SC_RND(r, KWJ)                                                                   \
    for (int j = 0; j < SC_IL; j++) {                                                     \
        SC_V *A_ = &s[(0 - (r)) & 7][j], *B_ = &s[(1 - (r)) & 7][j];                      \
        SC_V *C_ = &s[(2 - (r)) & 7][j], *D_ = &s[(3 - (r)) & 7][j];                      \
        SC_V *E_ = &s[(4 - (r)) & 7][j], *F_ = &s[(5 - (r)) & 7][j];                      \
        SC_V *G_ = &s[(6 - (r)) & 7][j], *H_ = &s[(7 - (r)) & 7][j];                      \
        SC_V t1_ = V_ADD(V_ADD(*H_, V_BSIG1(*E_)), V_ADD(V_CH(*E_, *F_, *G_), (KWJ)));  \
        *D_ = V_ADD(*D_, t1_);                                                            \
        *H_ = V_ADD(t1_, V_ADD(V_BSIG0(*A_), V_MAJ(*A_, *B_, *C_)));                      \
    }

#define SC_KWC(t) V_SET1(ctx->kw[t])                       /* constant message word */
#define SC_KWV(t) V_ADD(V_SET1(sc_sha512_K[t]), w[t][j])   /* schedule word */

SC_KERNEL_ATTR
int SC_KERNEL_NAME(const sc_pow_ctx *ctx, uint64_t first, uint64_t count, uint64_t *hit)
{
    const SC_V target = V_SET1(ctx->target);
    const SC_V iv0 = V_SET1(sc_sha512_IV[0]);

    const uint64_t step = (uint64_t)SC_LANES * SC_IL;
    /* Written so that base never wraps, even for counts near 2^64. */
    for (uint64_t base = 0; base < count; base = (count - base > step) ? base + step : count) {
        SC_V w[80][SC_IL];
        SC_V s[8][SC_IL];

        for (int j = 0; j < SC_IL; j++) {
            SC_V x = V_NONCES(first + base + (uint64_t)j * SC_LANES);
            /* Message schedule, constant parts precomputed (see pow_ctx.c). */
            w[16][j] = V_ADD(x, V_SET1(ctx->w16c));
            w[17][j] = V_SET1(ctx->w17);
            w[18][j] = V_ADD(V_SSIG1(w[16][j]), V_SET1(ctx->c18));
            w[19][j] = V_SET1(ctx->w19);
            w[20][j] = V_ADD(V_SSIG1(w[18][j]), V_SET1(ctx->c20));
            w[21][j] = V_SET1(ctx->w21);
            w[22][j] = V_ADD(V_SSIG1(w[20][j]), V_SET1(ctx->c22));
            w[23][j] = V_ADD(w[16][j], V_SET1(ctx->c23));
            w[24][j] = V_ADD(V_SSIG1(w[22][j]), V_SET1(ctx->c24));
            w[25][j] = V_ADD(V_ADD(V_SSIG1(w[23][j]), w[18][j]), V_SET1(0x8000000000000000ULL));
            w[26][j] = V_ADD(V_SSIG1(w[24][j]), V_SET1(ctx->c26));
            w[27][j] = V_ADD(V_SSIG1(w[25][j]), w[20][j]);
            w[28][j] = V_ADD(V_SSIG1(w[26][j]), V_SET1(ctx->c28));
            w[29][j] = V_ADD(V_SSIG1(w[27][j]), w[22][j]);
            w[30][j] = V_ADD(V_ADD(V_SSIG1(w[28][j]), w[23][j]), V_SET1(ctx->c30));
            /* W31 and W32 still read constant words (W15 = 576, W16's partner W17). */
            w[31][j] = V_ADD(V_ADD(V_SSIG1(w[29][j]), w[24][j]),
                             V_ADD(V_SSIG0(w[16][j]), V_SET1(72 * 8)));
            for (int t = 32; t < 80; t++)
                w[t][j] = V_ADD(V_ADD(V_SSIG1(w[t - 2][j]), w[t - 7][j]),
                                V_ADD(V_SSIG0(w[t - 15][j]), w[t - 16][j]));

            /* Round 0 from the IV. */
            s[0][j] = V_ADD(x, V_SET1(ctx->a0));
            s[1][j] = V_SET1(sc_sha512_IV[0]);
            s[2][j] = V_SET1(sc_sha512_IV[1]);
            s[3][j] = V_SET1(sc_sha512_IV[2]);
            s[4][j] = V_ADD(x, V_SET1(ctx->e0));
            s[5][j] = V_SET1(sc_sha512_IV[4]);
            s[6][j] = V_SET1(sc_sha512_IV[5]);
            s[7][j] = V_SET1(sc_sha512_IV[6]);
        }
        SC_RND(0, SC_KWC(1)) SC_RND(1, SC_KWC(2)) SC_RND(2, SC_KWC(3)) SC_RND(3, SC_KWC(4))
        SC_RND(4, SC_KWC(5)) SC_RND(5, SC_KWC(6)) SC_RND(6, SC_KWC(7)) SC_RND(7, SC_KWC(8))
        SC_RND(0, SC_KWC(9)) SC_RND(1, SC_KWC(10)) SC_RND(2, SC_KWC(11)) SC_RND(3, SC_KWC(12))
        SC_RND(4, SC_KWC(13)) SC_RND(5, SC_KWC(14)) SC_RND(6, SC_KWC(15)) SC_RND(7, SC_KWV(16))
        for (int t = 17; t < 73; t += 8) {
            SC_RND(0, SC_KWV(t)) SC_RND(1, SC_KWV(t + 1)) SC_RND(2, SC_KWV(t + 2))
            SC_RND(3, SC_KWV(t + 3)) SC_RND(4, SC_KWV(t + 4)) SC_RND(5, SC_KWV(t + 5))
            SC_RND(6, SC_KWV(t + 6)) SC_RND(7, SC_KWV(t + 7))
        }
        SC_RND(0, SC_KWV(73)) SC_RND(1, SC_KWV(74)) SC_RND(2, SC_KWV(75))
        SC_RND(3, SC_KWV(76)) SC_RND(4, SC_KWV(77)) SC_RND(5, SC_KWV(78))
        SC_RND(6, SC_KWV(79))

        /* After 79 rounds in rotation 6, word a sits in slot 1. */
        unsigned mask = 0;
        for (int j = 0; j < SC_IL; j++)
            mask |= (unsigned)V_HITMASK(V_ADD(s[1][j], iv0), target) << (j * SC_LANES);
        if (mask && sc_first_hit(mask, count - base, base, hit))
            return 1;
    }
    return 0;
}

#undef SC_RND
#undef SC_KWC
#undef SC_KWV
