/*
 * Constants shared by start.S and the C side (lib.h). Plain #defines only:
 * this header is included by assembly too.
 */
#ifndef GUEST_ARM_ASM_H
#define GUEST_ARM_ASM_H

#define MAX_CPUS    64      /* stacks: Aff1 * 16 + Aff0 < 64 (start.S) */
#define STACK_SIZE  8192

/* The exception frame start.S builds (struct frame in lib.h). */
#define FRAME_X30   240
#define FRAME_ELR   248
#define FRAME_SPSR  256
#define FRAME_SP0   264
#define FRAME_SIZE  272

#endif
