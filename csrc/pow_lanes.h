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
 *   - the last round computes only the new `a` (the one word compared).
 * Only the new `a` of round 79 is needed, but it depends on every word of the
 * state after round 78, so no earlier work can be skipped.
 *
 * How the work is laid out (this decides the speed on wide vectors, where the
 * arithmetic is already minimal and what is left is keeping the units busy):
 *   - With SC_RING_LAYOUT defined (ISAs with 32 vector registers), the
 *     message schedule lives in a ring of 16 words and word t + 16 is
 *     computed right after round t, the last reader of word t.  Schedule and
 *     rounds then interleave (the schedule fills the gaps of the round's
 *     dependency chain), and 16 live words per vector instead of 80 keep
 *     register spills low: AVX-512 on Zen 4 gained 3-5 %.  Without it, all
 *     80 words are computed first into memory: with 16 registers (AVX2,
 *     scalar x86-64) the ring spills more than it saves (AVX2 lost 25 %).
 *     Also with SC_RING_LAYOUT, h + K[t] + W[t] is formed one round early (h
 *     of round t is g of round t - 1), so g is dead once Ch has read it: with
 *     a destructive 3-input instruction (vpternlogq) Ch needs no register
 *     copy, and the addition leaves the critical path (round 1's h + K + W
 *     is a constant).  One more live vector, which 16-register ISAs cannot
 *     afford either (-12 % for AVX2 and the portable kernel).
 *
 * The including file defines, then includes this header:
 *   SC_V                  the vector type (uint64_t for the portable kernel)
 *   SC_LANES, SC_IL       nonces per vector, vectors interleaved per step
 *   SC_KERNEL_NAME        the function to define (an sc_pow_scan_fn)
 *   SC_RING_LAYOUT        (optional) the layout for 32 vector registers, above
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

/* Pointers A_..H_ to the state words of rotation r in lane group j. */
#define SC_SLOTS(r)                                                                      \
        SC_V *A_ = &s[(0 - (r)) & 7][j], *B_ = &s[(1 - (r)) & 7][j];                      \
        SC_V *C_ = &s[(2 - (r)) & 7][j], *D_ = &s[(3 - (r)) & 7][j];                      \
        SC_V *E_ = &s[(4 - (r)) & 7][j], *F_ = &s[(5 - (r)) & 7][j];                      \
        SC_V *G_ = &s[(6 - (r)) & 7][j], *H_ = &s[(7 - (r)) & 7][j];

/* One round on all SC_IL vectors.  State slots are named by index so the
 * 8-round rotation costs no moves: slot (k - r) & 7 holds word k at rotation r.
 * KW is K[t] + W[t] for this round; with SC_RING_LAYOUT, hk[j] already holds
 * this round's h + K[t] + W[t] and KW is the next round's K[t+1] + W[t+1]. */
#ifdef SC_RING_LAYOUT
#define SC_RND(r, KW)                                                                    \
    for (int j = 0; j < SC_IL; j++) {                                                     \
        SC_SLOTS(r)                                                                       \
        SC_V hk_ = hk[j];                                                                 \
        hk[j] = V_ADD(*G_, (KW));                                                         \
        SC_V t1_ = V_ADD(hk_, V_ADD(V_BSIG1(*E_), V_CH(*E_, *F_, *G_)));                  \
        *D_ = V_ADD(*D_, t1_);                                                            \
        *H_ = V_ADD(t1_, V_ADD(V_BSIG0(*A_), V_MAJ(*A_, *B_, *C_)));                      \
    }
/* The schedule ring: word t sits in slot t & 15. */
#define SC_WSLOTS 16
#define SC_W(t) w[(t) & 15][j]
#else
#define SC_RND(r, KW)                                                                    \
    for (int j = 0; j < SC_IL; j++) {                                                     \
        SC_SLOTS(r)                                                                       \
        SC_V t1_ = V_ADD(V_ADD(*H_, V_BSIG1(*E_)), V_ADD(V_CH(*E_, *F_, *G_), (KW)));    \
        *D_ = V_ADD(*D_, t1_);                                                            \
        *H_ = V_ADD(t1_, V_ADD(V_BSIG0(*A_), V_MAJ(*A_, *B_, *C_)));                      \
    }
#define SC_WSLOTS 80
#define SC_W(t) w[t][j]
#endif

#define SC_KWC(t) V_SET1(ctx->kw[t])                       /* constant message word */
#define SC_KWV(t) V_ADD(V_SET1(sc_sha512_K[t]), SC_W(t))   /* schedule word */
#define SC_SCHED(t)                                                                       \
    SC_W(t) = V_ADD(V_ADD(V_SSIG1(SC_W((t) - 2)), SC_W((t) - 7)),                         \
                    V_ADD(V_SSIG0(SC_W((t) - 15)), SC_W((t) - 16)))
/* Ring layout: round t (t >= 1, rotation (t - 1) & 7), then schedule word t + 16
 * into the slot of word t, which round t was the last to read. */
#define SC_RS(t)                                                                          \
    SC_RND(((t) - 1) & 7, SC_KWV((t) + 1))                                                \
    for (int j = 0; j < SC_IL; j++)                                                       \
        SC_SCHED((t) + 16);
#define SC_RS8(t) SC_RS(t) SC_RS(t + 1) SC_RS(t + 2) SC_RS(t + 3) \
                  SC_RS(t + 4) SC_RS(t + 5) SC_RS(t + 6) SC_RS(t + 7)
#define SC_R(t) SC_RND(((t) - 1) & 7, SC_KWV((t) + 1))

SC_KERNEL_ATTR
int SC_KERNEL_NAME(const sc_pow_ctx *ctx, uint64_t first, uint64_t count, uint64_t *hit)
{
    const SC_V target = V_SET1(ctx->target);
    const SC_V iv0 = V_SET1(sc_sha512_IV[0]);

    const uint64_t step = (uint64_t)SC_LANES * SC_IL;
    /* Written so that base never wraps, even for counts near 2^64. */
    for (uint64_t base = 0; base < count; base = (count - base > step) ? base + step : count) {
        SC_V w[SC_WSLOTS][SC_IL];
        SC_V s[8][SC_IL];
#ifdef SC_RING_LAYOUT
        SC_V hk[SC_IL];
#endif

        for (int j = 0; j < SC_IL; j++) {
            SC_V x = V_NONCES(first + base + (uint64_t)j * SC_LANES);
            /* Message schedule, constant parts precomputed (see pow_ctx.c). */
            SC_W(16) = V_ADD(x, V_SET1(ctx->w16c));
            SC_W(17) = V_SET1(ctx->w17);
            SC_W(18) = V_ADD(V_SSIG1(SC_W(16)), V_SET1(ctx->c18));
            SC_W(19) = V_SET1(ctx->w19);
            SC_W(20) = V_ADD(V_SSIG1(SC_W(18)), V_SET1(ctx->c20));
            SC_W(21) = V_SET1(ctx->w21);
            SC_W(22) = V_ADD(V_SSIG1(SC_W(20)), V_SET1(ctx->c22));
            SC_W(23) = V_ADD(SC_W(16), V_SET1(ctx->c23));
            SC_W(24) = V_ADD(V_SSIG1(SC_W(22)), V_SET1(ctx->c24));
            SC_W(25) = V_ADD(V_ADD(V_SSIG1(SC_W(23)), SC_W(18)), V_SET1(0x8000000000000000ULL));
            SC_W(26) = V_ADD(V_SSIG1(SC_W(24)), V_SET1(ctx->c26));
            SC_W(27) = V_ADD(V_SSIG1(SC_W(25)), SC_W(20));
            SC_W(28) = V_ADD(V_SSIG1(SC_W(26)), V_SET1(ctx->c28));
            SC_W(29) = V_ADD(V_SSIG1(SC_W(27)), SC_W(22));
            SC_W(30) = V_ADD(V_ADD(V_SSIG1(SC_W(28)), SC_W(23)), V_SET1(ctx->c30));
            /* W31 and W32 still read constant words (W15 = 576, W16's partner W17). */
            SC_W(31) = V_ADD(V_ADD(V_SSIG1(SC_W(29)), SC_W(24)),
                             V_ADD(V_SSIG0(SC_W(16)), V_SET1(72 * 8)));
#ifndef SC_RING_LAYOUT
            for (int t = 32; t < 80; t++)
                SC_SCHED(t);
#endif

            /* Round 0 from the IV. */
            s[0][j] = V_ADD(x, V_SET1(ctx->a0));
            s[1][j] = V_SET1(sc_sha512_IV[0]);
            s[2][j] = V_SET1(sc_sha512_IV[1]);
            s[3][j] = V_SET1(sc_sha512_IV[2]);
            s[4][j] = V_ADD(x, V_SET1(ctx->e0));
            s[5][j] = V_SET1(sc_sha512_IV[4]);
            s[6][j] = V_SET1(sc_sha512_IV[5]);
            s[7][j] = V_SET1(sc_sha512_IV[6]);
#ifdef SC_RING_LAYOUT
            hk[j] = V_SET1(sc_sha512_IV[6] + ctx->kw[1]); /* round 1's h is IV[6] */
#endif
        }
#ifdef SC_RING_LAYOUT
        SC_RND(0, SC_KWC(2)) SC_RND(1, SC_KWC(3)) SC_RND(2, SC_KWC(4)) SC_RND(3, SC_KWC(5))
        SC_RND(4, SC_KWC(6)) SC_RND(5, SC_KWC(7)) SC_RND(6, SC_KWC(8)) SC_RND(7, SC_KWC(9))
        SC_RND(0, SC_KWC(10)) SC_RND(1, SC_KWC(11)) SC_RND(2, SC_KWC(12)) SC_RND(3, SC_KWC(13))
        SC_RND(4, SC_KWC(14)) SC_RND(5, SC_KWC(15)) SC_RND(6, SC_KWV(16))
        SC_RS(16) SC_RS8(17) SC_RS8(25) SC_RS8(33) SC_RS8(41) SC_RS8(49)
        SC_RS(57) SC_RS(58) SC_RS(59) SC_RS(60) SC_RS(61) SC_RS(62) SC_RS(63)
        SC_R(64) SC_R(65) SC_R(66) SC_R(67) SC_R(68) SC_R(69) SC_R(70) SC_R(71)
        SC_R(72) SC_R(73) SC_R(74) SC_R(75) SC_R(76) SC_R(77) SC_R(78)
        /* Round 79 (rotation 6) computes only the new a. */
        for (int j = 0; j < SC_IL; j++) {
            SC_V a = s[2][j], e = s[6][j];
            SC_V t1 = V_ADD(hk[j], V_ADD(V_BSIG1(e), V_CH(e, s[7][j], s[0][j])));
            s[1][j] = V_ADD(t1, V_ADD(V_BSIG0(a), V_MAJ(a, s[3][j], s[4][j])));
        }
#else
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
        SC_RND(6, SC_KWV(79)) /* the compiler keeps only the new a of this one */
#endif

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
#undef SC_WSLOTS
#undef SC_W
#undef SC_KWC
#undef SC_KWV
#undef SC_SCHED
#undef SC_RS
#undef SC_RS8
#undef SC_R
