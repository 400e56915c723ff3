/*
 * c-mix: a freestanding integer workload (no libc, no floating point) for
 * guest-bench's realistic-code case. Each iteration runs, ROUNDS times, a
 * mix typical of integer code:
 *   - table-driven CRC32 over a 4 KiB buffer (byte loads, table lookups);
 *   - an LCG filling 512 uint32, sorted by a recursive quicksort with an
 *     insertion-sort cutoff (calls/returns, data-dependent branches), then
 *     FNV-1a over the sorted array's bytes and a sortedness check;
 *   - a sieve of Eratosthenes to 16384 (byte stores, strided loops);
 *   - a small stack-machine bytecode interpreter (a switch over 13 opcodes:
 *     a jump table, i.e. indirect jumps) running a fixed program over the
 *     buffer;
 * and everything is mixed into the checksum, and into the buffer the next
 * round hashes. cmix_run initializes everything it reads, so the result
 * depends only on the iteration count.
 *
 * Compiled for the guest with gcc -m32 -O2 -ffreestanding -nostdlib (see
 * bench/CMakeLists.txt) and for the host as part of guest-bench.
 */
#include "cmix.h"

#include <stddef.h>

#define BUF_SIZE   4096u
#define ARR_LEN    512
#define SIEVE_N    16384u
#define ROUNDS     4u
#define VM_LOOPS   1024u

/* Work layout. */
#define OFF_BUF    0x0000u
#define OFF_ARR    0x1000u
#define OFF_SIEVE  0x2000u

static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
    0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
    0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
    0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
    0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
    0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
    0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
    0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
    0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
    0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
    0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s;
}

static uint32_t rotl(uint32_t x, unsigned r)
{
    return (x << r) | (x >> (32 - r));
}

static uint32_t crc32(const uint8_t *p, uint32_t len)
{
    uint32_t c = 0xffffffffu;
    for (uint32_t i = 0; i < len; i++) {
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    }
    return ~c;
}

static uint32_t fnv1a(const uint8_t *p, uint32_t len)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

/* --- Sorting ------------------------------------------------------------- */

static void insertion_sort(uint32_t *a, int lo, int hi)
{
    for (int i = lo + 1; i <= hi; i++) {
        uint32_t v = a[i];
        int j = i - 1;
        while (j >= lo && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

/* Sorts a[lo..hi]: Hoare partition around a median of three, recursion on
 * the smaller part, a loop on the larger, insertion sort below 16. */
static __attribute__((noinline)) void quicksort(uint32_t *a, int lo, int hi)
{
    while (hi - lo >= 16) {
        int mid = lo + (hi - lo) / 2;
        uint32_t x = a[lo], y = a[mid], z = a[hi];
        uint32_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        int i = lo - 1, j = hi + 1;
        for (;;) {
            do {
                i++;
            } while (a[i] < pivot);
            do {
                j--;
            } while (a[j] > pivot);
            if (i >= j) {
                break;
            }
            uint32_t t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        if (j - lo < hi - j) {
            quicksort(a, lo, j);
            lo = j + 1;
        } else {
            quicksort(a, j + 1, hi);
            hi = j;
        }
    }
    insertion_sort(a, lo, hi);
}

/* --- Sieve ----------------------------------------------------------------- */

/* Primes below n (s: n bytes); returns their count, and a hash of them in
 * *mix. Odd numbers only are candidates, composites marked from p * p. */
static uint32_t sieve(uint8_t *s, uint32_t n, uint32_t *mix)
{
    for (uint32_t i = 0; i < n; i++) {
        s[i] = (uint8_t)(i & 1);
    }
    s[1] = 0;
    s[2] = 1;
    for (uint32_t p = 3; p * p < n; p += 2) {
        if (s[p]) {
            for (uint32_t m = p * p; m < n; m += 2 * p) {
                s[m] = 0;
            }
        }
    }
    uint32_t count = 0, h = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (s[i]) {
            count++;
            h = h * 31u + i;
        }
    }
    *mix = h;
    return count;
}

/* --- Bytecode interpreter -------------------------------------------------- */

enum {
    OP_PUSH,    /* imm8: push it */
    OP_LOAD,    /* r: push reg[r] */
    OP_STORE,   /* r: reg[r] = pop */
    OP_ADD, OP_SUB, OP_MUL, OP_XOR, OP_AND,
    OP_SHL,     /* imm8: top <<= imm */
    OP_SHR,     /* imm8: top >>= imm */
    OP_DUP,
    OP_LDB,     /* top = buf[top & 4095] */
    OP_JNZ,     /* target: jump if pop != 0 */
    OP_HALT,    /* return top */
};

/* reg0 = hash, reg1 = counter, reg2 = buffer index, reg3 = second hash:
 *   do { h = (h * 33 ^ buf[i]); h ^= h >> 7; i += 97; g += (h & 0xff) << 3 ... }
 *   while (--n); return h ^ g */
static const uint8_t vm_program[] = {
    OP_LOAD, 0, OP_PUSH, 33, OP_MUL,                 /*  0: h * 33 */
    OP_LOAD, 2, OP_LDB, OP_XOR,                      /*  5: ^ buf[i] */
    OP_DUP, OP_SHR, 7, OP_XOR, OP_DUP, OP_STORE, 0,  /*  9: h ^= h >> 7 (kept on the stack) */
    OP_PUSH, 255, OP_AND, OP_SHL, 3,                 /* 16: (h & 255) << 3 */
    OP_LOAD, 3, OP_ADD, OP_STORE, 3,                 /* 21: g += */
    OP_LOAD, 2, OP_PUSH, 97, OP_ADD, OP_STORE, 2,    /* 26: i += 97 */
    OP_LOAD, 1, OP_PUSH, 1, OP_SUB, OP_DUP, OP_STORE, 1, /* 33: n-- */
    OP_JNZ, 0,                                       /* 41 */
    OP_LOAD, 0, OP_LOAD, 3, OP_XOR, OP_HALT,         /* 43: h ^ g */
};

static __attribute__((noinline)) uint32_t vm_run(const uint8_t *code, const uint8_t *buf,
                                                 uint32_t *reg)
{
    uint32_t stack[16];
    unsigned sp = 0, pc = 0;
    for (;;) {
        uint8_t op = code[pc++];
        switch (op) {
        case OP_PUSH:
            stack[sp++] = code[pc++];
            break;
        case OP_LOAD:
            stack[sp++] = reg[code[pc++] & 3];
            break;
        case OP_STORE:
            reg[code[pc++] & 3] = stack[--sp];
            break;
        case OP_ADD:
            sp--;
            stack[sp - 1] += stack[sp];
            break;
        case OP_SUB:
            sp--;
            stack[sp - 1] -= stack[sp];
            break;
        case OP_MUL:
            sp--;
            stack[sp - 1] *= stack[sp];
            break;
        case OP_XOR:
            sp--;
            stack[sp - 1] ^= stack[sp];
            break;
        case OP_AND:
            sp--;
            stack[sp - 1] &= stack[sp];
            break;
        case OP_SHL:
            stack[sp - 1] <<= code[pc++] & 31;
            break;
        case OP_SHR:
            stack[sp - 1] >>= code[pc++] & 31;
            break;
        case OP_DUP:
            stack[sp] = stack[sp - 1];
            sp++;
            break;
        case OP_LDB:
            stack[sp - 1] = buf[stack[sp - 1] & (BUF_SIZE - 1)];
            break;
        case OP_JNZ: {
            uint8_t target = code[pc++];
            if (stack[--sp]) {
                pc = target;
            }
            break;
        }
        case OP_HALT:
        default:
            return sp ? stack[sp - 1] : 0;
        }
        sp &= 15;
    }
}

/* --- The mix --------------------------------------------------------------- */

uint32_t cmix_run(uint32_t iters, uint8_t *work)
{
    uint8_t *buf = work + OFF_BUF;
    uint32_t *arr = (uint32_t *)(void *)(work + OFF_ARR);
    uint8_t *sv = work + OFF_SIEVE;
    uint32_t seed = 0x12345678u, sum = 0x9e3779b9u;
    for (uint32_t i = 0; i < BUF_SIZE; i++) {
        buf[i] = (uint8_t)(lcg(&seed) >> 24);
    }
    for (uint32_t it = 0; it < iters; it++) {
        for (uint32_t round = 0; round < ROUNDS; round++) {
            uint32_t crc = crc32(buf, BUF_SIZE);
            seed ^= crc;

            for (int i = 0; i < ARR_LEN; i++) {
                uint32_t v = lcg(&seed);
                arr[i] = v ^ (v >> 15);
            }
            quicksort(arr, 0, ARR_LEN - 1);
            uint32_t fnv = fnv1a((const uint8_t *)arr, ARR_LEN * 4);
            uint32_t unsorted = 0;
            for (int i = 1; i < ARR_LEN; i++) {
                unsorted += arr[i - 1] > arr[i];
            }

            uint32_t primes_hash;
            uint32_t primes = sieve(sv, SIEVE_N, &primes_hash);

            uint32_t reg[4] = { seed, VM_LOOPS, seed & (BUF_SIZE - 1), fnv };
            uint32_t vm = vm_run(vm_program, buf, reg);

            /* The next round hashes a different buffer. */
            buf[(seed >> 8) & (BUF_SIZE - 1)] ^= (uint8_t)vm;
            buf[crc & (BUF_SIZE - 1)] += (uint8_t)fnv;
            buf[vm & (BUF_SIZE - 1)] ^= (uint8_t)(primes_hash >> 3);

            sum = rotl(sum, 5) ^ crc;
            sum += fnv;
            sum ^= (primes + unsorted * 0x10001u) * 2654435761u;
            sum = rotl(sum, 11) + primes_hash;
            sum ^= vm;
            sum += arr[fnv & (ARR_LEN - 1)];
        }
    }
    return sum;
}
