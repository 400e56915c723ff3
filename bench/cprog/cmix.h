/*
 * c-mix: a freestanding integer workload for guest-bench (bench/cprog/cmix.c).
 * The same source is compiled twice: for the guest (gcc -m32 -O2, linked at
 * a fixed address into a flat image that cmix_entry.asm enters) and into
 * guest-bench itself for the native baseline.
 */
#ifndef MMUSIM_BENCH_CPROG_CMIX_H
#define MMUSIM_BENCH_CPROG_CMIX_H

#include <stdint.h>

/* Bytes of `work` cmix_run uses (it initializes all it reads). */
#define CMIX_WORK_SIZE 0x8000u

/* Runs `iters` iterations of the mix over `work`; returns the checksum
 * (a function of iters alone). */
uint32_t cmix_run(uint32_t iters, uint8_t *work);

#endif
