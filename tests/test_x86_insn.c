/*
 * The x86 instruction handlers (targets/x86/x86_insn_*.c), run on a tiny
 * machine: 8 MiB of RAM at 0, a CPU view, a 64 KiB port space with a test
 * device at ports 0x80-0x87, a code cache and one CPU.
 *
 * Programs are machine code placed in RAM (real mode at 0x7000 with CS = 0;
 * protected and long mode at 0x10000, flat segments); each ends with HLT.
 * They were assembled with GNU as (Intel syntax) and are listed with their
 * disassembly; labels used by the checks are #defined with their address.
 * Most programs store results at R (0x20000; 0x4000 in real mode) in
 * 4-byte (8-byte in long mode, 2-byte in real mode) slots, or push the
 * flags there.
 *
 * Exceptions: every IVT/IDT vector points to a stub at 0x3000 + 16 * v that
 * stores v at 0x600 and halts, so a test sees which vector was delivered
 * and the frame the CPU pushed.
 *
 * Memory map: 0 IVT, 0x600 last vector, 0x800 GDT, 0x1000 IDT, 0x2000 TSS,
 * 0x2400 LDT, 0x3000 stubs, 0x4000 real-mode data, 0x7000 real-mode code,
 * 0x9000 real-mode stack top, 0x10000 code, 0x20000 results, 0x30000 page
 * tables, 0x78000 ring-0 stack top (TSS), 0x80000 stack top, 0x100000+
 * string buffers.
 */
#include <check.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "softmmu/address_space.h"
#include "softmmu/cpu_view.h"
#include "softmmu/region.h"
#include "targets/x86/x86_cpu.h"

#define RAM_SIZE 0x800000u
#define VEC 0x600u
#define GDT 0x800u
#define IDT 0x1000u
#define TSS 0x2000u
#define LDT 0x2400u
#define STUBS 0x3000u
#define R16 0x4000u
#define CODE16 0x7000u
#define CODE 0x10000u
#define R 0x20000u
#define PT 0x30000u
#define STACK0 0x78000u
#define STACK 0x80000u

/* ------------------------------------------------------------------ */
/* Programs: bytes assembled with GNU as (Intel syntax), each instruction listed with its
 * disassembly at its load address; L_ labels the checks use are #defined. */

/* real_alu: 16-bit code at 0x7000 */
static const uint8_t real_alu[] = {
    0xb8, 0xff, 0x7f,                        /* 07000: mov ax,0x7fff */
    0x83, 0xc0, 0x01,                        /* 07003: add ax,0x1 */
    0x9c,                                    /* 07006: pushf */
    0x8f, 0x06, 0x00, 0x40,                  /* 07007: pop WORD PTR ds:0x4000 */
    0xbb, 0xff, 0xff,                        /* 0700b: mov bx,0xffff */
    0x83, 0xc3, 0x01,                        /* 0700e: add bx,0x1 */
    0x83, 0xd3, 0x05,                        /* 07011: adc bx,0x5 */
    0xb9, 0x0a, 0x00,                        /* 07014: mov cx,0xa */
    0x83, 0xe9, 0x0b,                        /* 07017: sub cx,0xb */
    0x83, 0xd9, 0x00,                        /* 0701a: sbb cx,0x0 */
    0xba, 0xf0, 0xf0,                        /* 0701d: mov dx,0xf0f0 */
    0x81, 0xe2, 0x3c, 0x3c,                  /* 07020: and dx,0x3c3c */
    0x81, 0xca, 0x01, 0x01,                  /* 07024: or dx,0x101 */
    0x83, 0xf2, 0xff,                        /* 07028: xor dx,0xffff */
    0xf7, 0xd2,                              /* 0702b: not dx */
    0xf7, 0xda,                              /* 0702d: neg dx */
    0xbe, 0xff, 0xff,                        /* 0702f: mov si,0xffff */
    0xf9,                                    /* 07032: stc */
    0x46,                                    /* 07033: inc si */
    0x9c,                                    /* 07034: pushf */
    0x8f, 0x06, 0x02, 0x40,                  /* 07035: pop WORD PTR ds:0x4002 */
    0xbf, 0x05, 0x00,                        /* 07039: mov di,0x5 */
    0x4f,                                    /* 0703c: dec di */
    0x66, 0xbd, 0x78, 0x56, 0x34, 0x12,      /* 0703d: mov ebp,0x12345678 */
    0x66, 0x81, 0xc5, 0x11, 0x11, 0x11, 0x11, /* 07043: add ebp,0x11111111 */
    0xb0, 0x0f,                              /* 0704a: mov al,0xf */
    0xb4, 0xf0,                              /* 0704c: mov ah,0xf0 */
    0x00, 0xc4,                              /* 0704e: add ah,al */
    0x3c, 0x10,                              /* 07050: cmp al,0x10 */
    0x9c,                                    /* 07052: pushf */
    0x8f, 0x06, 0x04, 0x40,                  /* 07053: pop WORD PTR ds:0x4004 */
    0xf4,                                    /* 07057: hlt */
};

/* real_muldiv: 16-bit code at 0x7000 */
#define REAL_MULDIV_divz 0x7045
static const uint8_t real_muldiv[] = {
    0xb8, 0x2c, 0x01,                        /* 07000: mov ax,0x12c */
    0xbb, 0xc8, 0x00,                        /* 07003: mov bx,0xc8 */
    0xf7, 0xe3,                              /* 07006: mul bx */
    0xa3, 0x00, 0x40,                        /* 07008: mov ds:0x4000,ax */
    0x89, 0x16, 0x02, 0x40,                  /* 0700b: mov WORD PTR ds:0x4002,dx */
    0xb0, 0x80,                              /* 0700f: mov al,0x80 */
    0xb1, 0x02,                              /* 07011: mov cl,0x2 */
    0xf6, 0xe9,                              /* 07013: imul cl */
    0xa3, 0x04, 0x40,                        /* 07015: mov ds:0x4004,ax */
    0xb8, 0xe8, 0x03,                        /* 07018: mov ax,0x3e8 */
    0x31, 0xd2,                              /* 0701b: xor dx,dx */
    0xbb, 0x07, 0x00,                        /* 0701d: mov bx,0x7 */
    0xf7, 0xf3,                              /* 07020: div bx */
    0xa3, 0x06, 0x40,                        /* 07022: mov ds:0x4006,ax */
    0x89, 0x16, 0x08, 0x40,                  /* 07025: mov WORD PTR ds:0x4008,dx */
    0xb8, 0x18, 0xfc,                        /* 07029: mov ax,0xfc18 */
    0x99,                                    /* 0702c: cwd */
    0xf7, 0xfb,                              /* 0702d: idiv bx */
    0xa3, 0x0a, 0x40,                        /* 0702f: mov ds:0x400a,ax */
    0x89, 0x16, 0x0c, 0x40,                  /* 07032: mov WORD PTR ds:0x400c,dx */
    0xb8, 0x34, 0x02,                        /* 07036: mov ax,0x234 */
    0xb3, 0x10,                              /* 07039: mov bl,0x10 */
    0xf6, 0xf3,                              /* 0703b: div bl */
    0xa3, 0x0e, 0x40,                        /* 0703d: mov ds:0x400e,ax */
    0xb8, 0x05, 0x00,                        /* 07040: mov ax,0x5 */
    0x30, 0xdb,                              /* 07043: xor bl,bl */
    0xf6, 0xf3,                              /* 07045: div bl */
    0xf4,                                    /* 07047: hlt */
};

/* real_stack: 16-bit code at 0x7000 */
static const uint8_t real_stack[] = {
    0xb8, 0x11, 0x11,                        /* 07000: mov ax,0x1111 */
    0xbb, 0x22, 0x22,                        /* 07003: mov bx,0x2222 */
    0x50,                                    /* 07006: push ax */
    0x53,                                    /* 07007: push bx */
    0x59,                                    /* 07008: pop cx */
    0x5a,                                    /* 07009: pop dx */
    0x68, 0x34, 0x12,                        /* 0700a: push 0x1234 */
    0x5e,                                    /* 0700d: pop si */
    0xc7, 0x06, 0x00, 0x40, 0x55, 0x55,      /* 0700e: mov WORD PTR ds:0x4000,0x5555 */
    0xff, 0x36, 0x00, 0x40,                  /* 07014: push WORD PTR ds:0x4000 */
    0x8f, 0x06, 0x02, 0x40,                  /* 07018: pop WORD PTR ds:0x4002 */
    0xb8, 0x0a, 0x0a,                        /* 0701c: mov ax,0xa0a */
    0xb9, 0x0c, 0x0c,                        /* 0701f: mov cx,0xc0c */
    0xbd, 0x0b, 0x0b,                        /* 07022: mov bp,0xb0b */
    0x60,                                    /* 07025: pusha */
    0x31, 0xc0,                              /* 07026: xor ax,ax */
    0x31, 0xc9,                              /* 07028: xor cx,cx */
    0x31, 0xed,                              /* 0702a: xor bp,bp */
    0x61,                                    /* 0702c: popa */
    0xbb, 0x40, 0x00,                        /* 0702d: mov bx,0x40 */
    0x8e, 0xc3,                              /* 07030: mov es,bx */
    0x06,                                    /* 07032: push es */
    0x1f,                                    /* 07033: pop ds */
    0xc7, 0x06, 0x10, 0x00, 0x77, 0x77,      /* 07034: mov WORD PTR ds:0x10,0x7777 */
    0x16,                                    /* 0703a: push ss */
    0x1f,                                    /* 0703b: pop ds */
    0xc8, 0x04, 0x00, 0x00,                  /* 0703c: enter 0x4,0x0 */
    0xc7, 0x46, 0xfe, 0xcd, 0xab,            /* 07040: mov WORD PTR [bp-0x2],0xabcd */
    0x8b, 0x7e, 0xfe,                        /* 07045: mov di,WORD PTR [bp-0x2] */
    0xc9,                                    /* 07048: leave */
    0x89, 0x26, 0x04, 0x40,                  /* 07049: mov WORD PTR ds:0x4004,sp */
    0xbb, 0x00, 0x40,                        /* 0704d: mov bx,0x4000 */
    0xb0, 0x03,                              /* 07050: mov al,0x3 */
    0xd7,                                    /* 07052: xlat BYTE PTR ds:[bx] */
    0xa2, 0x06, 0x40,                        /* 07053: mov ds:0x4006,al */
    0xc4, 0x1e, 0x08, 0x40,                  /* 07056: les bx,DWORD PTR ds:0x4008 */
    0x89, 0x1e, 0x0c, 0x40,                  /* 0705a: mov WORD PTR ds:0x400c,bx */
    0x31, 0xdb,                              /* 0705e: xor bx,bx */
    0xb0, 0x02,                              /* 07060: mov al,0x2 */
    0x26, 0xd7,                              /* 07062: xlat BYTE PTR es:[bx] */
    0xa2, 0x0e, 0x40,                        /* 07064: mov ds:0x400e,al */
    0xf4,                                    /* 07067: hlt */
};

/* real_ctl: 16-bit code at 0x7000 */
#define REAL_CTL_back 0x7039
#define REAL_CTL_farsub 0x7044
#define REAL_CTL_h50 0x704b
#define REAL_CTL_tbl 0x704f
static const uint8_t real_ctl[] = {
    0x31, 0xc0,                              /* 07000: xor ax,ax */
    0xb9, 0x05, 0x00,                        /* 07002: mov cx,0x5 */
    0x01, 0xc8,                              /* 07005: add ax,cx */
    0xe2, 0xfc,                              /* 07007: loop 0x7005 */
    0xbb, 0x00, 0x00,                        /* 07009: mov bx,0x0 */
    0xe8, 0x31, 0x00,                        /* 0700c: call 0x7040 */
    0xba, 0x00, 0x00,                        /* 0700f: mov dx,0x0 */
    0xe3, 0x03,                              /* 07012: jcxz 0x7017 */
    0xba, 0xad, 0x0b,                        /* 07014: mov dx,0xbad */
    0x83, 0xf8, 0x0f,                        /* 07017: cmp ax,0xf */
    0x75, 0x02,                              /* 0701a: jne 0x701e */
    0xeb, 0x03,                              /* 0701c: jmp 0x7021 */
    0xba, 0xd2, 0xba,                        /* 0701e: mov dx,0xbad2 */
    0xbe, 0x03, 0x00,                        /* 07021: mov si,0x3 */
    0xb9, 0x0a, 0x00,                        /* 07024: mov cx,0xa */
    0x4e,                                    /* 07027: dec si */
    0xe0, 0xfd,                              /* 07028: loopne 0x7027 */
    0xcd, 0x50,                              /* 0702a: int 0x50 */
    0x9a, 0x44, 0x70, 0x00, 0x00,            /* 0702c: call 0x0:0x7044 */
    0x8d, 0x2e, 0x4f, 0x70,                  /* 07031: lea bp,ds:0x704f */
    0xff, 0x66, 0x00,                        /* 07035: jmp WORD PTR [bp+0x0] */
    0xf4,                                    /* 07038: hlt */
    0xc7, 0x06, 0x00, 0x40, 0x0d, 0x60,      /* 07039: mov WORD PTR ds:0x4000,0x600d */
    0xf4,                                    /* 0703f: hlt */
    0xbb, 0x99, 0x00,                        /* 07040: mov bx,0x99 */
    0xc3,                                    /* 07043: ret */
    0xc7, 0x06, 0x02, 0x40, 0xfa, 0x00,      /* 07044: mov WORD PTR ds:0x4002,0xfa */
    0xcb,                                    /* 0704a: retf */
    0xbf, 0x50, 0x50,                        /* 0704b: mov di,0x5050 */
    0xcf,                                    /* 0704e: iret */
    0x39,                                    /* 0704f: .byte 0x39 */
    0x70,                                    /* 07050: .byte 0x70 */
};

/* real_string: 16-bit code at 0x7000 */
static const uint8_t real_string[] = {
    0xfc,                                    /* 07000: cld */
    0xbe, 0x00, 0x41,                        /* 07001: mov si,0x4100 */
    0xbf, 0x00, 0x42,                        /* 07004: mov di,0x4200 */
    0xb9, 0x08, 0x00,                        /* 07007: mov cx,0x8 */
    0xf3, 0xa4,                              /* 0700a: rep movs BYTE PTR es:[di],BYTE PTR ds:[si] */
    0xbf, 0x00, 0x43,                        /* 0700c: mov di,0x4300 */
    0xb8, 0x5a, 0x5a,                        /* 0700f: mov ax,0x5a5a */
    0xb9, 0x04, 0x00,                        /* 07012: mov cx,0x4 */
    0xf3, 0xab,                              /* 07015: rep stos WORD PTR es:[di],ax */
    0xbe, 0x00, 0x41,                        /* 07017: mov si,0x4100 */
    0xbf, 0x00, 0x42,                        /* 0701a: mov di,0x4200 */
    0xb9, 0x08, 0x00,                        /* 0701d: mov cx,0x8 */
    0xf3, 0xa6,                              /* 07020: repz cmps BYTE PTR ds:[si],BYTE PTR es:[di] */
    0x89, 0x0e, 0x00, 0x40,                  /* 07022: mov WORD PTR ds:0x4000,cx */
    0xbf, 0x00, 0x41,                        /* 07026: mov di,0x4100 */
    0xb0, 0x65,                              /* 07029: mov al,0x65 */
    0xb9, 0x08, 0x00,                        /* 0702b: mov cx,0x8 */
    0xf2, 0xae,                              /* 0702e: repnz scas al,BYTE PTR es:[di] */
    0x89, 0x0e, 0x02, 0x40,                  /* 07030: mov WORD PTR ds:0x4002,cx */
    0x89, 0x3e, 0x04, 0x40,                  /* 07034: mov WORD PTR ds:0x4004,di */
    0xb8, 0x10, 0x04,                        /* 07038: mov ax,0x410 */
    0x8e, 0xe0,                              /* 0703b: mov fs,ax */
    0x31, 0xf6,                              /* 0703d: xor si,si */
    0x64, 0xac,                              /* 0703f: lods al,BYTE PTR fs:[si] */
    0xa3, 0x06, 0x40,                        /* 07041: mov ds:0x4006,ax */
    0xfd,                                    /* 07044: std */
    0xbe, 0x07, 0x41,                        /* 07045: mov si,0x4107 */
    0xbf, 0x07, 0x44,                        /* 07048: mov di,0x4407 */
    0xb9, 0x08, 0x00,                        /* 0704b: mov cx,0x8 */
    0xf3, 0xa4,                              /* 0704e: rep movs BYTE PTR es:[di],BYTE PTR ds:[si] */
    0xfc,                                    /* 07050: cld */
    0x89, 0x36, 0x08, 0x40,                  /* 07051: mov WORD PTR ds:0x4008,si */
    0x89, 0x3e, 0x0a, 0x40,                  /* 07055: mov WORD PTR ds:0x400a,di */
    0x31, 0xc9,                              /* 07059: xor cx,cx */
    0xf3, 0xa4,                              /* 0705b: rep movs BYTE PTR es:[di],BYTE PTR ds:[si] */
    0x89, 0x36, 0x0c, 0x40,                  /* 0705d: mov WORD PTR ds:0x400c,si */
    0xf4,                                    /* 07061: hlt */
};

/* real_io: 16-bit code at 0x7000 */
static const uint8_t real_io[] = {
    0xb0, 0x5a,                              /* 07000: mov al,0x5a */
    0xe6, 0x80,                              /* 07002: out 0x80,al */
    0xba, 0x81, 0x00,                        /* 07004: mov dx,0x81 */
    0xb8, 0x34, 0x12,                        /* 07007: mov ax,0x1234 */
    0xef,                                    /* 0700a: out dx,ax */
    0x66, 0xb8, 0xef, 0xbe, 0xad, 0xde,      /* 0700b: mov eax,0xdeadbeef */
    0x66, 0xef,                              /* 07011: out dx,eax */
    0xe4, 0x80,                              /* 07013: in al,0x80 */
    0xa3, 0x00, 0x40,                        /* 07015: mov ds:0x4000,ax */
    0xed,                                    /* 07018: in ax,dx */
    0xa3, 0x02, 0x40,                        /* 07019: mov ds:0x4002,ax */
    0xba, 0x80, 0x00,                        /* 0701c: mov dx,0x80 */
    0xbf, 0x00, 0x45,                        /* 0701f: mov di,0x4500 */
    0xb9, 0x04, 0x00,                        /* 07022: mov cx,0x4 */
    0xf3, 0x6c,                              /* 07025: rep ins BYTE PTR es:[di],dx */
    0xbe, 0x00, 0x46,                        /* 07027: mov si,0x4600 */
    0xb9, 0x03, 0x00,                        /* 0702a: mov cx,0x3 */
    0xf3, 0x6e,                              /* 0702d: rep outs dx,BYTE PTR ds:[si] */
    0xf4,                                    /* 0702f: hlt */
};

/* real_to_pm: 16-bit code at 0x7000 */
#define REAL_TO_PM_pm 0x7028
static const uint8_t real_to_pm[] = {
    0x0f, 0x01, 0x16, 0x00, 0x40,            /* 07000: lgdtw ds:0x4000 */
    0x0f, 0x01, 0x06, 0x10, 0x40,            /* 07005: sgdtw ds:0x4010 */
    0x66, 0x0f, 0x01, 0x16, 0x08, 0x40,      /* 0700a: lgdtd ds:0x4008 */
    0x0f, 0x01, 0xe0,                        /* 07010: smsw ax */
    0xa3, 0x18, 0x40,                        /* 07013: mov ds:0x4018,ax */
    0x0f, 0x20, 0xc0,                        /* 07016: mov eax,cr0 */
    0x66, 0x83, 0xc8, 0x01,                  /* 07019: or eax,0x1 */
    0x0f, 0x22, 0xc0,                        /* 0701d: mov cr0,eax */
    0x66, 0xea, 0x28, 0x70, 0x00, 0x00, 0x08, /* 07020: jmp 0x8:0x7028 */
    0x00,
    /* 32-bit code */
    0x66, 0xb8, 0x10, 0x00,                  /* 07028: mov ax,0x10 */
    0x8e, 0xd8,                              /* 0702c: mov ds,eax */
    0x8e, 0xc0,                              /* 0702e: mov es,eax */
    0x8e, 0xd0,                              /* 07030: mov ss,eax */
    0xbc, 0x00, 0x00, 0x08, 0x00,            /* 07032: mov esp,0x80000 */
    0xc7, 0x05, 0x20, 0x40, 0x00, 0x00, 0x0d, /* 07037: mov DWORD PTR ds:0x4020,0x900d */
    0x90, 0x00, 0x00,
    0xf4,                                    /* 07041: hlt */
};

/* pm_alu: 32-bit code at 0x10000 */
static const uint8_t pm_alu[] = {
    0xb8, 0xff, 0xff, 0xff, 0xff,            /* 10000: mov eax,0xffffffff */
    0x83, 0xc0, 0x01,                        /* 10005: add eax,0x1 */
    0x9c,                                    /* 10008: pushf */
    0x8f, 0x05, 0x00, 0x00, 0x02, 0x00,      /* 10009: pop DWORD PTR ds:0x20000 */
    0xa3, 0x04, 0x00, 0x02, 0x00,            /* 1000f: mov ds:0x20004,eax */
    0xb8, 0x00, 0x00, 0x00, 0x80,            /* 10014: mov eax,0x80000000 */
    0x83, 0xe8, 0x01,                        /* 10019: sub eax,0x1 */
    0xa3, 0x08, 0x00, 0x02, 0x00,            /* 1001c: mov ds:0x20008,eax */
    0x9c,                                    /* 10021: pushf */
    0x8f, 0x05, 0x0c, 0x00, 0x02, 0x00,      /* 10022: pop DWORD PTR ds:0x2000c */
    0xf9,                                    /* 10028: stc */
    0xb8, 0x01, 0x00, 0x00, 0x00,            /* 10029: mov eax,0x1 */
    0x83, 0xd0, 0x01,                        /* 1002e: adc eax,0x1 */
    0xa3, 0x10, 0x00, 0x02, 0x00,            /* 10031: mov ds:0x20010,eax */
    0xf9,                                    /* 10036: stc */
    0xb8, 0x03, 0x00, 0x00, 0x00,            /* 10037: mov eax,0x3 */
    0x83, 0xd8, 0x01,                        /* 1003c: sbb eax,0x1 */
    0xa3, 0x14, 0x00, 0x02, 0x00,            /* 1003f: mov ds:0x20014,eax */
    0xb8, 0x05, 0x00, 0x00, 0x00,            /* 10044: mov eax,0x5 */
    0xf7, 0xd8,                              /* 10049: neg eax */
    0xa3, 0x18, 0x00, 0x02, 0x00,            /* 1004b: mov ds:0x20018,eax */
    0x9c,                                    /* 10050: pushf */
    0x8f, 0x05, 0x1c, 0x00, 0x02, 0x00,      /* 10051: pop DWORD PTR ds:0x2001c */
    0xf9,                                    /* 10057: stc */
    0xb8, 0xff, 0xff, 0xff, 0x7f,            /* 10058: mov eax,0x7fffffff */
    0x40,                                    /* 1005d: inc eax */
    0xa3, 0x20, 0x00, 0x02, 0x00,            /* 1005e: mov ds:0x20020,eax */
    0x9c,                                    /* 10063: pushf */
    0x8f, 0x05, 0x24, 0x00, 0x02, 0x00,      /* 10064: pop DWORD PTR ds:0x20024 */
    0xbb, 0xfd, 0xff, 0xff, 0xff,            /* 1006a: mov ebx,0xfffffffd */
    0x69, 0xc3, 0xe8, 0x03, 0x00, 0x00,      /* 1006f: imul eax,ebx,0x3e8 */
    0xa3, 0x28, 0x00, 0x02, 0x00,            /* 10075: mov ds:0x20028,eax */
    0xb8, 0x00, 0x00, 0x01, 0x00,            /* 1007a: mov eax,0x10000 */
    0x0f, 0xaf, 0xc0,                        /* 1007f: imul eax,eax */
    0xa3, 0x2c, 0x00, 0x02, 0x00,            /* 10082: mov ds:0x2002c,eax */
    0x9c,                                    /* 10087: pushf */
    0x8f, 0x05, 0x30, 0x00, 0x02, 0x00,      /* 10088: pop DWORD PTR ds:0x20030 */
    0xb8, 0x00, 0x00, 0x00, 0x80,            /* 1008e: mov eax,0x80000000 */
    0xbb, 0x04, 0x00, 0x00, 0x00,            /* 10093: mov ebx,0x4 */
    0xf7, 0xe3,                              /* 10098: mul ebx */
    0xa3, 0x34, 0x00, 0x02, 0x00,            /* 1009a: mov ds:0x20034,eax */
    0x89, 0x15, 0x38, 0x00, 0x02, 0x00,      /* 1009f: mov DWORD PTR ds:0x20038,edx */
    0xba, 0x01, 0x00, 0x00, 0x00,            /* 100a5: mov edx,0x1 */
    0xb8, 0x00, 0x00, 0x00, 0x00,            /* 100aa: mov eax,0x0 */
    0xbb, 0x10, 0x00, 0x00, 0x00,            /* 100af: mov ebx,0x10 */
    0xf7, 0xf3,                              /* 100b4: div ebx */
    0xa3, 0x3c, 0x00, 0x02, 0x00,            /* 100b6: mov ds:0x2003c,eax */
    0x89, 0x15, 0x40, 0x00, 0x02, 0x00,      /* 100bb: mov DWORD PTR ds:0x20040,edx */
    0xb8, 0xf9, 0xff, 0xff, 0xff,            /* 100c1: mov eax,0xfffffff9 */
    0x99,                                    /* 100c6: cdq */
    0xbb, 0x02, 0x00, 0x00, 0x00,            /* 100c7: mov ebx,0x2 */
    0xf7, 0xfb,                              /* 100cc: idiv ebx */
    0xa3, 0x44, 0x00, 0x02, 0x00,            /* 100ce: mov ds:0x20044,eax */
    0x89, 0x15, 0x48, 0x00, 0x02, 0x00,      /* 100d3: mov DWORD PTR ds:0x20048,edx */
    0xb8, 0x01, 0x00, 0x00, 0x80,            /* 100d9: mov eax,0x80000001 */
    0xd1, 0xe0,                              /* 100de: shl eax,1 */
    0xa3, 0x4c, 0x00, 0x02, 0x00,            /* 100e0: mov ds:0x2004c,eax */
    0x9c,                                    /* 100e5: pushf */
    0x8f, 0x05, 0x50, 0x00, 0x02, 0x00,      /* 100e6: pop DWORD PTR ds:0x20050 */
    0xbb, 0x00, 0x00, 0x00, 0x80,            /* 100ec: mov ebx,0x80000000 */
    0xc1, 0xfb, 0x04,                        /* 100f1: sar ebx,0x4 */
    0x89, 0x1d, 0x54, 0x00, 0x02, 0x00,      /* 100f4: mov DWORD PTR ds:0x20054,ebx */
    0xb9, 0x00, 0x00, 0x00, 0x80,            /* 100fa: mov ecx,0x80000000 */
    0xc1, 0xe9, 0x1f,                        /* 100ff: shr ecx,0x1f */
    0x89, 0x0d, 0x58, 0x00, 0x02, 0x00,      /* 10102: mov DWORD PTR ds:0x20058,ecx */
    0xba, 0x78, 0x56, 0x34, 0x12,            /* 10108: mov edx,0x12345678 */
    0xc1, 0xc2, 0x08,                        /* 1010d: rol edx,0x8 */
    0x89, 0x15, 0x5c, 0x00, 0x02, 0x00,      /* 10110: mov DWORD PTR ds:0x2005c,edx */
    0xbe, 0x78, 0x56, 0x34, 0x12,            /* 10116: mov esi,0x12345678 */
    0xc1, 0xce, 0x04,                        /* 1011b: ror esi,0x4 */
    0x89, 0x35, 0x60, 0x00, 0x02, 0x00,      /* 1011e: mov DWORD PTR ds:0x20060,esi */
    0xbf, 0x01, 0x00, 0x00, 0x00,            /* 10124: mov edi,0x1 */
    0xf9,                                    /* 10129: stc */
    0xd1, 0xd7,                              /* 1012a: rcl edi,1 */
    0x89, 0x3d, 0x64, 0x00, 0x02, 0x00,      /* 1012c: mov DWORD PTR ds:0x20064,edi */
    0xf8,                                    /* 10132: clc */
    0xbd, 0x01, 0x00, 0x00, 0x00,            /* 10133: mov ebp,0x1 */
    0xd1, 0xdd,                              /* 10138: rcr ebp,1 */
    0x89, 0x2d, 0x68, 0x00, 0x02, 0x00,      /* 1013a: mov DWORD PTR ds:0x20068,ebp */
    0x9c,                                    /* 10140: pushf */
    0x8f, 0x05, 0x6c, 0x00, 0x02, 0x00,      /* 10141: pop DWORD PTR ds:0x2006c */
    0xc7, 0x05, 0x70, 0x00, 0x02, 0x00, 0xff, /* 10147: mov DWORD PTR ds:0x20070,0xffff */
    0xff, 0x00, 0x00,
    0xc1, 0x25, 0x70, 0x00, 0x02, 0x00, 0x04, /* 10151: shl DWORD PTR ds:0x20070,0x4 */
    0xc7, 0x05, 0x74, 0x00, 0x02, 0x00, 0x01, /* 10158: mov DWORD PTR ds:0x20074,0x1 */
    0x00, 0x00, 0x00,
    0xb1, 0x24,                              /* 10162: mov cl,0x24 */
    0xd3, 0x25, 0x74, 0x00, 0x02, 0x00,      /* 10164: shl DWORD PTR ds:0x20074,cl */
    0xb8, 0x78, 0x56, 0x34, 0x12,            /* 1016a: mov eax,0x12345678 */
    0xbb, 0xf0, 0xde, 0xbc, 0x9a,            /* 1016f: mov ebx,0x9abcdef0 */
    0x0f, 0xa4, 0xd8, 0x08,                  /* 10174: shld eax,ebx,0x8 */
    0xa3, 0x78, 0x00, 0x02, 0x00,            /* 10178: mov ds:0x20078,eax */
    0xb8, 0x78, 0x56, 0x34, 0x12,            /* 1017d: mov eax,0x12345678 */
    0x0f, 0xac, 0xd8, 0x08,                  /* 10182: shrd eax,ebx,0x8 */
    0xa3, 0x7c, 0x00, 0x02, 0x00,            /* 10186: mov ds:0x2007c,eax */
    0x31, 0xc0,                              /* 1018b: xor eax,eax */
    0xb9, 0x20, 0x00, 0x00, 0x00,            /* 1018d: mov ecx,0x20 */
    0xd3, 0xe3,                              /* 10192: shl ebx,cl */
    0x9c,                                    /* 10194: pushf */
    0x8f, 0x05, 0x80, 0x00, 0x02, 0x00,      /* 10195: pop DWORD PTR ds:0x20080 */
    0xb0, 0x81,                              /* 1019b: mov al,0x81 */
    0xd0, 0xc0,                              /* 1019d: rol al,1 */
    0x0f, 0xb6, 0xc0,                        /* 1019f: movzx eax,al */
    0xa3, 0x84, 0x00, 0x02, 0x00,            /* 101a2: mov ds:0x20084,eax */
    0x66, 0xb8, 0x00, 0x80,                  /* 101a7: mov ax,0x8000 */
    0x66, 0xc1, 0xf8, 0x0f,                  /* 101ab: sar ax,0xf */
    0x0f, 0xb7, 0xc0,                        /* 101af: movzx eax,ax */
    0xa3, 0x88, 0x00, 0x02, 0x00,            /* 101b2: mov ds:0x20088,eax */
    0xb8, 0xf0, 0xf0, 0xf0, 0xf0,            /* 101b7: mov eax,0xf0f0f0f0 */
    0x25, 0xf0, 0x0f, 0xf0, 0x0f,            /* 101bc: and eax,0xff00ff0 */
    0xa3, 0x8c, 0x00, 0x02, 0x00,            /* 101c1: mov ds:0x2008c,eax */
    0x9c,                                    /* 101c6: pushf */
    0x8f, 0x05, 0x90, 0x00, 0x02, 0x00,      /* 101c7: pop DWORD PTR ds:0x20090 */
    0x0d, 0x00, 0x00, 0x00, 0x80,            /* 101cd: or eax,0x80000000 */
    0xa3, 0x94, 0x00, 0x02, 0x00,            /* 101d2: mov ds:0x20094,eax */
    0x31, 0xc0,                              /* 101d7: xor eax,eax */
    0x85, 0xc0,                              /* 101d9: test eax,eax */
    0x9c,                                    /* 101db: pushf */
    0x8f, 0x05, 0x98, 0x00, 0x02, 0x00,      /* 101dc: pop DWORD PTR ds:0x20098 */
    0xb8, 0x0f, 0x0f, 0x0f, 0x0f,            /* 101e2: mov eax,0xf0f0f0f */
    0xf7, 0xd0,                              /* 101e7: not eax */
    0xa3, 0xa0, 0x00, 0x02, 0x00,            /* 101e9: mov ds:0x200a0,eax */
    0xb8, 0xfb, 0xff, 0xff, 0xff,            /* 101ee: mov eax,0xfffffffb */
    0x83, 0xf8, 0x03,                        /* 101f3: cmp eax,0x3 */
    0x0f, 0x9c, 0x05, 0xa4, 0x00, 0x02, 0x00, /* 101f6: setl BYTE PTR ds:0x200a4 */
    0x0f, 0x92, 0x05, 0xa5, 0x00, 0x02, 0x00, /* 101fd: setb BYTE PTR ds:0x200a5 */
    0x0f, 0x9f, 0x05, 0xa6, 0x00, 0x02, 0x00, /* 10204: setg BYTE PTR ds:0x200a6 */
    0x0f, 0x97, 0x05, 0xa7, 0x00, 0x02, 0x00, /* 1020b: seta BYTE PTR ds:0x200a7 */
    0xb9, 0x07, 0x00, 0x00, 0x00,            /* 10212: mov ecx,0x7 */
    0xba, 0x09, 0x00, 0x00, 0x00,            /* 10217: mov edx,0x9 */
    0x39, 0xd1,                              /* 1021c: cmp ecx,edx */
    0x0f, 0x4c, 0xca,                        /* 1021e: cmovl ecx,edx */
    0x0f, 0x4f, 0xc8,                        /* 10221: cmovg ecx,eax */
    0x89, 0x0d, 0xa8, 0x00, 0x02, 0x00,      /* 10224: mov DWORD PTR ds:0x200a8,ecx */
    0xbb, 0x00, 0x00, 0xf0, 0x00,            /* 1022a: mov ebx,0xf00000 */
    0x0f, 0xbc, 0xc3,                        /* 1022f: bsf eax,ebx */
    0xa3, 0xac, 0x00, 0x02, 0x00,            /* 10232: mov ds:0x200ac,eax */
    0x0f, 0xbd, 0xcb,                        /* 10237: bsr ecx,ebx */
    0x89, 0x0d, 0xb0, 0x00, 0x02, 0x00,      /* 1023a: mov DWORD PTR ds:0x200b0,ecx */
    0xf3, 0x0f, 0xbc, 0xc3,                  /* 10240: tzcnt eax,ebx */
    0xa3, 0xb4, 0x00, 0x02, 0x00,            /* 10244: mov ds:0x200b4,eax */
    0xf3, 0x0f, 0xbd, 0xc3,                  /* 10249: lzcnt eax,ebx */
    0xa3, 0xb8, 0x00, 0x02, 0x00,            /* 1024d: mov ds:0x200b8,eax */
    0xf3, 0x0f, 0xb8, 0xc3,                  /* 10252: popcnt eax,ebx */
    0xa3, 0xbc, 0x00, 0x02, 0x00,            /* 10256: mov ds:0x200bc,eax */
    0xb8, 0x34, 0x12, 0x00, 0x00,            /* 1025b: mov eax,0x1234 */
    0x31, 0xdb,                              /* 10260: xor ebx,ebx */
    0x0f, 0xbc, 0xc3,                        /* 10262: bsf eax,ebx */
    0xa3, 0xc0, 0x00, 0x02, 0x00,            /* 10265: mov ds:0x200c0,eax */
    0x9c,                                    /* 1026a: pushf */
    0x8f, 0x05, 0xc4, 0x00, 0x02, 0x00,      /* 1026b: pop DWORD PTR ds:0x200c4 */
    0xb8, 0x78, 0x56, 0x34, 0x12,            /* 10271: mov eax,0x12345678 */
    0x0f, 0xc8,                              /* 10276: bswap eax */
    0xa3, 0xc8, 0x00, 0x02, 0x00,            /* 10278: mov ds:0x200c8,eax */
    0xb8, 0x80, 0x00, 0x34, 0x12,            /* 1027d: mov eax,0x12340080 */
    0x66, 0x98,                              /* 10282: cbw */
    0xa3, 0xcc, 0x00, 0x02, 0x00,            /* 10284: mov ds:0x200cc,eax */
    0x98,                                    /* 10289: cwde */
    0xa3, 0xd0, 0x00, 0x02, 0x00,            /* 1028a: mov ds:0x200d0,eax */
    0xb8, 0x00, 0x00, 0x00, 0x80,            /* 1028f: mov eax,0x80000000 */
    0x99,                                    /* 10294: cdq */
    0x89, 0x15, 0xd4, 0x00, 0x02, 0x00,      /* 10295: mov DWORD PTR ds:0x200d4,edx */
    0xb8, 0x01, 0x00, 0x00, 0x00,            /* 1029b: mov eax,0x1 */
    0xbb, 0x02, 0x00, 0x00, 0x00,            /* 102a0: mov ebx,0x2 */
    0x93,                                    /* 102a5: xchg ebx,eax */
    0xa3, 0xd8, 0x00, 0x02, 0x00,            /* 102a6: mov ds:0x200d8,eax */
    0x89, 0x1d, 0xdc, 0x00, 0x02, 0x00,      /* 102ab: mov DWORD PTR ds:0x200dc,ebx */
    0xb8, 0x05, 0x00, 0x00, 0x00,            /* 102b1: mov eax,0x5 */
    0xc7, 0x05, 0xe0, 0x00, 0x02, 0x00, 0x0a, /* 102b6: mov DWORD PTR ds:0x200e0,0xa */
    0x00, 0x00, 0x00,
    0x0f, 0xc1, 0x05, 0xe0, 0x00, 0x02, 0x00, /* 102c0: xadd DWORD PTR ds:0x200e0,eax */
    0xa3, 0xe4, 0x00, 0x02, 0x00,            /* 102c7: mov ds:0x200e4,eax */
    0xc7, 0x05, 0xe8, 0x00, 0x02, 0x00, 0x07, /* 102cc: mov DWORD PTR ds:0x200e8,0x7 */
    0x00, 0x00, 0x00,
    0xc7, 0x05, 0xec, 0x00, 0x02, 0x00, 0x00, /* 102d6: mov DWORD PTR ds:0x200ec,0x0 */
    0x00, 0x00, 0x00,
    0xb8, 0x07, 0x00, 0x00, 0x00,            /* 102e0: mov eax,0x7 */
    0xb9, 0x63, 0x00, 0x00, 0x00,            /* 102e5: mov ecx,0x63 */
    0x0f, 0xb1, 0x0d, 0xe8, 0x00, 0x02, 0x00, /* 102ea: cmpxchg DWORD PTR ds:0x200e8,ecx */
    0x0f, 0x94, 0x05, 0xec, 0x00, 0x02, 0x00, /* 102f1: sete BYTE PTR ds:0x200ec */
    0xc7, 0x05, 0xf0, 0x00, 0x02, 0x00, 0x08, /* 102f8: mov DWORD PTR ds:0x200f0,0x8 */
    0x00, 0x00, 0x00,
    0xb8, 0x07, 0x00, 0x00, 0x00,            /* 10302: mov eax,0x7 */
    0x0f, 0xb1, 0x0d, 0xf0, 0x00, 0x02, 0x00, /* 10307: cmpxchg DWORD PTR ds:0x200f0,ecx */
    0xa3, 0xf4, 0x00, 0x02, 0x00,            /* 1030e: mov ds:0x200f4,eax */
    0xc7, 0x05, 0xf8, 0x00, 0x02, 0x00, 0x22, /* 10313: mov DWORD PTR ds:0x200f8,0x22222222 */
    0x22, 0x22, 0x22,
    0xc7, 0x05, 0xfc, 0x00, 0x02, 0x00, 0x11, /* 1031d: mov DWORD PTR ds:0x200fc,0x11111111 */
    0x11, 0x11, 0x11,
    0xb8, 0x22, 0x22, 0x22, 0x22,            /* 10327: mov eax,0x22222222 */
    0xba, 0x11, 0x11, 0x11, 0x11,            /* 1032c: mov edx,0x11111111 */
    0xbb, 0x44, 0x44, 0x44, 0x44,            /* 10331: mov ebx,0x44444444 */
    0xb9, 0x33, 0x33, 0x33, 0x33,            /* 10336: mov ecx,0x33333333 */
    0x0f, 0xc7, 0x0d, 0xf8, 0x00, 0x02, 0x00, /* 1033b: cmpxchg8b QWORD PTR ds:0x200f8 */
    0xb3, 0x80,                              /* 10342: mov bl,0x80 */
    0x0f, 0xb6, 0xc3,                        /* 10344: movzx eax,bl */
    0xa3, 0x00, 0x01, 0x02, 0x00,            /* 10347: mov ds:0x20100,eax */
    0x0f, 0xbe, 0xc3,                        /* 1034c: movsx eax,bl */
    0xa3, 0x04, 0x01, 0x02, 0x00,            /* 1034f: mov ds:0x20104,eax */
    0x66, 0xbb, 0x01, 0x80,                  /* 10354: mov bx,0x8001 */
    0x0f, 0xbf, 0xc3,                        /* 10358: movsx eax,bx */
    0xa3, 0x08, 0x01, 0x02, 0x00,            /* 1035b: mov ds:0x20108,eax */
    0xbb, 0x00, 0x10, 0x00, 0x00,            /* 10360: mov ebx,0x1000 */
    0xbe, 0x03, 0x00, 0x00, 0x00,            /* 10365: mov esi,0x3 */
    0x8d, 0x44, 0xb3, 0x10,                  /* 1036a: lea eax,[ebx+esi*4+0x10] */
    0xa3, 0x0c, 0x01, 0x02, 0x00,            /* 1036e: mov ds:0x2010c,eax */
    0xc7, 0x05, 0x10, 0x01, 0x02, 0x00, 0x00, /* 10373: mov DWORD PTR ds:0x20110,0x0 */
    0x00, 0x00, 0x00,
    0xc7, 0x05, 0x14, 0x01, 0x02, 0x00, 0x00, /* 1037d: mov DWORD PTR ds:0x20114,0x0 */
    0x00, 0x00, 0x00,
    0xc7, 0x05, 0x18, 0x01, 0x02, 0x00, 0x00, /* 10387: mov DWORD PTR ds:0x20118,0x0 */
    0x00, 0x00, 0x00,
    0xc7, 0x05, 0x1c, 0x01, 0x02, 0x00, 0x00, /* 10391: mov DWORD PTR ds:0x2011c,0x0 */
    0x00, 0x00, 0x00,
    0xb8, 0x21, 0x00, 0x00, 0x00,            /* 1039b: mov eax,0x21 */
    0x0f, 0xab, 0x05, 0x10, 0x01, 0x02, 0x00, /* 103a0: bts DWORD PTR ds:0x20110,eax */
    0xb8, 0xe1, 0xff, 0xff, 0xff,            /* 103a7: mov eax,0xffffffe1 */
    0x0f, 0xa3, 0x05, 0x18, 0x01, 0x02, 0x00, /* 103ac: bt DWORD PTR ds:0x20118,eax */
    0x0f, 0x92, 0x05, 0x1c, 0x01, 0x02, 0x00, /* 103b3: setb BYTE PTR ds:0x2011c */
    0xb8, 0xff, 0xff, 0xff, 0xff,            /* 103ba: mov eax,0xffffffff */
    0x0f, 0xbb, 0x05, 0x18, 0x01, 0x02, 0x00, /* 103bf: btc DWORD PTR ds:0x20118,eax */
    0x0f, 0xba, 0x2d, 0x10, 0x01, 0x02, 0x00, /* 103c6: bts DWORD PTR ds:0x20110,0x21 */
    0x21,
    0xb8, 0x10, 0x00, 0x00, 0x00,            /* 103ce: mov eax,0x10 */
    0x0f, 0xba, 0xe0, 0x04,                  /* 103d3: bt eax,0x4 */
    0x0f, 0xba, 0xf0, 0x04,                  /* 103d7: btr eax,0x4 */
    0xa3, 0x20, 0x01, 0x02, 0x00,            /* 103db: mov ds:0x20120,eax */
    0xb4, 0xd5,                              /* 103e0: mov ah,0xd5 */
    0x9e,                                    /* 103e2: sahf */
    0x9c,                                    /* 103e3: pushf */
    0x8f, 0x05, 0x24, 0x01, 0x02, 0x00,      /* 103e4: pop DWORD PTR ds:0x20124 */
    0x31, 0xc0,                              /* 103ea: xor eax,eax */
    0x9f,                                    /* 103ec: lahf */
    0x0f, 0xb6, 0xc4,                        /* 103ed: movzx eax,ah */
    0xa3, 0x28, 0x01, 0x02, 0x00,            /* 103f0: mov ds:0x20128,eax */
    0xb8, 0x01, 0x00, 0x00, 0x00,            /* 103f5: mov eax,0x1 */
    0x83, 0xf8, 0x02,                        /* 103fa: cmp eax,0x2 */
    0x0f, 0x90, 0x05, 0x2c, 0x01, 0x02, 0x00, /* 103fd: seto BYTE PTR ds:0x2012c */
    0x0f, 0x91, 0x05, 0x2d, 0x01, 0x02, 0x00, /* 10404: setno BYTE PTR ds:0x2012d */
    0x0f, 0x92, 0x05, 0x2e, 0x01, 0x02, 0x00, /* 1040b: setb BYTE PTR ds:0x2012e */
    0x0f, 0x93, 0x05, 0x2f, 0x01, 0x02, 0x00, /* 10412: setae BYTE PTR ds:0x2012f */
    0x0f, 0x94, 0x05, 0x30, 0x01, 0x02, 0x00, /* 10419: sete BYTE PTR ds:0x20130 */
    0x0f, 0x95, 0x05, 0x31, 0x01, 0x02, 0x00, /* 10420: setne BYTE PTR ds:0x20131 */
    0x0f, 0x96, 0x05, 0x32, 0x01, 0x02, 0x00, /* 10427: setbe BYTE PTR ds:0x20132 */
    0x0f, 0x97, 0x05, 0x33, 0x01, 0x02, 0x00, /* 1042e: seta BYTE PTR ds:0x20133 */
    0x0f, 0x98, 0x05, 0x34, 0x01, 0x02, 0x00, /* 10435: sets BYTE PTR ds:0x20134 */
    0x0f, 0x99, 0x05, 0x35, 0x01, 0x02, 0x00, /* 1043c: setns BYTE PTR ds:0x20135 */
    0x0f, 0x9a, 0x05, 0x36, 0x01, 0x02, 0x00, /* 10443: setp BYTE PTR ds:0x20136 */
    0x0f, 0x9b, 0x05, 0x37, 0x01, 0x02, 0x00, /* 1044a: setnp BYTE PTR ds:0x20137 */
    0x0f, 0x9c, 0x05, 0x38, 0x01, 0x02, 0x00, /* 10451: setl BYTE PTR ds:0x20138 */
    0x0f, 0x9d, 0x05, 0x39, 0x01, 0x02, 0x00, /* 10458: setge BYTE PTR ds:0x20139 */
    0x0f, 0x9e, 0x05, 0x3a, 0x01, 0x02, 0x00, /* 1045f: setle BYTE PTR ds:0x2013a */
    0x0f, 0x9f, 0x05, 0x3b, 0x01, 0x02, 0x00, /* 10466: setg BYTE PTR ds:0x2013b */
    0xb8, 0x44, 0x33, 0x22, 0x11,            /* 1046d: mov eax,0x11223344 */
    0xb4, 0x55,                              /* 10472: mov ah,0x55 */
    0x88, 0xe7,                              /* 10474: mov bh,ah */
    0xb3, 0x66,                              /* 10476: mov bl,0x66 */
    0x86, 0xe3,                              /* 10478: xchg bl,ah */
    0x0f, 0xb7, 0xcb,                        /* 1047a: movzx ecx,bx */
    0xa3, 0x3c, 0x01, 0x02, 0x00,            /* 1047d: mov ds:0x2013c,eax */
    0x89, 0x0d, 0x40, 0x01, 0x02, 0x00,      /* 10482: mov DWORD PTR ds:0x20140,ecx */
    0xf4,                                    /* 10488: hlt */
};

/* pm_ctl: 32-bit code at 0x10000 */
#define PM_CTL_back32 0x1011c
#define PM_CTL_c16 0x1019b
#define PM_CTL_csub 0x10189
#define PM_CTL_far 0x1018f
#define PM_CTL_fj 0x10150
#define PM_CTL_h40 0x10195
#define PM_CTL_ind 0x100f6
#define PM_CTL_ind2 0x10107
#define PM_CTL_into 0x1017c
#define PM_CTL_sub8 0x1017e
static const uint8_t pm_ctl[] = {
    0x89, 0xe3,                              /* 10000: mov ebx,esp */
    0x0f, 0xa0,                              /* 10002: push fs */
    0x29, 0xe3,                              /* 10004: sub ebx,esp */
    0x89, 0x1d, 0x00, 0x00, 0x02, 0x00,      /* 10006: mov DWORD PTR ds:0x20000,ebx */
    0x89, 0xe3,                              /* 1000c: mov ebx,esp */
    0x66, 0x0f, 0xa0,                        /* 1000e: pushw fs */
    0x29, 0xe3,                              /* 10011: sub ebx,esp */
    0x89, 0x1d, 0x04, 0x00, 0x02, 0x00,      /* 10013: mov DWORD PTR ds:0x20004,ebx */
    0x66, 0x0f, 0xa1,                        /* 10019: popw fs */
    0x58,                                    /* 1001c: pop eax */
    0x6a, 0xff,                              /* 1001d: push 0xffffffff */
    0x58,                                    /* 1001f: pop eax */
    0xa3, 0x08, 0x00, 0x02, 0x00,            /* 10020: mov ds:0x20008,eax */
    0xb8, 0x0a, 0x00, 0x00, 0x00,            /* 10025: mov eax,0xa */
    0xb9, 0x0c, 0x00, 0x00, 0x00,            /* 1002a: mov ecx,0xc */
    0xbd, 0x0b, 0x00, 0x00, 0x00,            /* 1002f: mov ebp,0xb */
    0x60,                                    /* 10034: pusha */
    0x31, 0xc0,                              /* 10035: xor eax,eax */
    0x31, 0xc9,                              /* 10037: xor ecx,ecx */
    0x31, 0xed,                              /* 10039: xor ebp,ebp */
    0x61,                                    /* 1003b: popa */
    0xa3, 0x0c, 0x00, 0x02, 0x00,            /* 1003c: mov ds:0x2000c,eax */
    0x89, 0x0d, 0x10, 0x00, 0x02, 0x00,      /* 10041: mov DWORD PTR ds:0x20010,ecx */
    0x89, 0x2d, 0x14, 0x00, 0x02, 0x00,      /* 10047: mov DWORD PTR ds:0x20014,ebp */
    0x68, 0x02, 0x02, 0x00, 0x00,            /* 1004d: push 0x202 */
    0x9d,                                    /* 10052: popf */
    0x9c,                                    /* 10053: pushf */
    0x8f, 0x05, 0x18, 0x00, 0x02, 0x00,      /* 10054: pop DWORD PTR ds:0x20018 */
    0x6a, 0x02,                              /* 1005a: push 0x2 */
    0x9d,                                    /* 1005c: popf */
    0x6a, 0x01,                              /* 1005d: push 0x1 */
    0x6a, 0x02,                              /* 1005f: push 0x2 */
    0xe8, 0x18, 0x01, 0x00, 0x00,            /* 10061: call 0x1017e */
    0x89, 0x25, 0x1c, 0x00, 0x02, 0x00,      /* 10066: mov DWORD PTR ds:0x2001c,esp */
    0xa3, 0x20, 0x00, 0x02, 0x00,            /* 1006c: mov ds:0x20020,eax */
    0xbd, 0x00, 0x01, 0x08, 0x00,            /* 10071: mov ebp,0x80100 */
    0xc7, 0x05, 0xfc, 0x00, 0x08, 0x00, 0xfe, /* 10076: mov DWORD PTR ds:0x800fc,0xcafe */
    0xca, 0x00, 0x00,
    0xc8, 0x08, 0x00, 0x02,                  /* 10080: enter 0x8,0x2 */
    0x89, 0x25, 0x24, 0x00, 0x02, 0x00,      /* 10084: mov DWORD PTR ds:0x20024,esp */
    0x89, 0x2d, 0x28, 0x00, 0x02, 0x00,      /* 1008a: mov DWORD PTR ds:0x20028,ebp */
    0x8b, 0x45, 0x00,                        /* 10090: mov eax,DWORD PTR [ebp+0x0] */
    0xa3, 0x54, 0x00, 0x02, 0x00,            /* 10093: mov ds:0x20054,eax */
    0x8b, 0x45, 0xfc,                        /* 10098: mov eax,DWORD PTR [ebp-0x4] */
    0xa3, 0x58, 0x00, 0x02, 0x00,            /* 1009b: mov ds:0x20058,eax */
    0x8b, 0x45, 0xf8,                        /* 100a0: mov eax,DWORD PTR [ebp-0x8] */
    0xa3, 0x5c, 0x00, 0x02, 0x00,            /* 100a3: mov ds:0x2005c,eax */
    0xc9,                                    /* 100a8: leave */
    0x89, 0x25, 0x2c, 0x00, 0x02, 0x00,      /* 100a9: mov DWORD PTR ds:0x2002c,esp */
    0x89, 0x2d, 0x30, 0x00, 0x02, 0x00,      /* 100af: mov DWORD PTR ds:0x20030,ebp */
    0xb8, 0x00, 0x00, 0x00, 0x00,            /* 100b5: mov eax,0x0 */
    0xb9, 0x05, 0x00, 0x00, 0x00,            /* 100ba: mov ecx,0x5 */
    0x40,                                    /* 100bf: inc eax */
    0xe2, 0xfd,                              /* 100c0: loop 0x100bf */
    0xa3, 0x34, 0x00, 0x02, 0x00,            /* 100c2: mov ds:0x20034,eax */
    0xb9, 0x0a, 0x00, 0x00, 0x00,            /* 100c7: mov ecx,0xa */
    0x31, 0xc0,                              /* 100cc: xor eax,eax */
    0x40,                                    /* 100ce: inc eax */
    0x83, 0xf8, 0x04,                        /* 100cf: cmp eax,0x4 */
    0xe0, 0xfa,                              /* 100d2: loopne 0x100ce */
    0x89, 0x0d, 0x38, 0x00, 0x02, 0x00,      /* 100d4: mov DWORD PTR ds:0x20038,ecx */
    0x31, 0xc9,                              /* 100da: xor ecx,ecx */
    0xb8, 0x01, 0x00, 0x00, 0x00,            /* 100dc: mov eax,0x1 */
    0xe3, 0x05,                              /* 100e1: jecxz 0x100e8 */
    0xb8, 0x02, 0x00, 0x00, 0x00,            /* 100e3: mov eax,0x2 */
    0xa3, 0x3c, 0x00, 0x02, 0x00,            /* 100e8: mov ds:0x2003c,eax */
    0x8d, 0x05, 0xf6, 0x00, 0x01, 0x00,      /* 100ed: lea eax,ds:0x100f6 */
    0xff, 0xe0,                              /* 100f3: jmp eax */
    0xf4,                                    /* 100f5: hlt */
    0xc7, 0x05, 0x40, 0x00, 0x02, 0x00, 0x07, /* 100f6: mov DWORD PTR ds:0x20040,0x10107 */
    0x01, 0x01, 0x00,
    0xff, 0x25, 0x40, 0x00, 0x02, 0x00,      /* 10100: jmp DWORD PTR ds:0x20040 */
    0xf4,                                    /* 10106: hlt */
    0x8d, 0x05, 0x89, 0x01, 0x01, 0x00,      /* 10107: lea eax,ds:0x10189 */
    0xff, 0xd0,                              /* 1010d: call eax */
    0x89, 0x15, 0x44, 0x00, 0x02, 0x00,      /* 1010f: mov DWORD PTR ds:0x20044,edx */
    0xea, 0x9b, 0x01, 0x00, 0x00, 0x18, 0x00, /* 10115: jmp 0x18:0x19b */
    0xa3, 0x48, 0x00, 0x02, 0x00,            /* 1011c: mov ds:0x20048,eax */
    0x9a, 0x8f, 0x01, 0x01, 0x00, 0x08, 0x00, /* 10121: call 0x8:0x1018f */
    0x89, 0x15, 0x4c, 0x00, 0x02, 0x00,      /* 10128: mov DWORD PTR ds:0x2004c,edx */
    0xcd, 0x40,                              /* 1012e: int 0x40 */
    0x89, 0x35, 0x50, 0x00, 0x02, 0x00,      /* 10130: mov DWORD PTR ds:0x20050,esi */
    0xc7, 0x05, 0x60, 0x00, 0x02, 0x00, 0x50, /* 10136: mov DWORD PTR ds:0x20060,0x10150 */
    0x01, 0x01, 0x00,
    0x66, 0xc7, 0x05, 0x64, 0x00, 0x02, 0x00, /* 10140: mov WORD PTR ds:0x20064,0x8 */
    0x08, 0x00,
    0xff, 0x2d, 0x60, 0x00, 0x02, 0x00,      /* 10149: jmp FWORD PTR ds:0x20060 */
    0xf4,                                    /* 1014f: hlt */
    0xba, 0x00, 0x00, 0x00, 0x00,            /* 10150: mov edx,0x0 */
    0xc7, 0x05, 0x6c, 0x00, 0x02, 0x00, 0x8f, /* 10155: mov DWORD PTR ds:0x2006c,0x1018f */
    0x01, 0x01, 0x00,
    0x66, 0xc7, 0x05, 0x70, 0x00, 0x02, 0x00, /* 1015f: mov WORD PTR ds:0x20070,0x8 */
    0x08, 0x00,
    0xff, 0x1d, 0x6c, 0x00, 0x02, 0x00,      /* 10168: call FWORD PTR ds:0x2006c */
    0x89, 0x15, 0x68, 0x00, 0x02, 0x00,      /* 1016e: mov DWORD PTR ds:0x20068,edx */
    0xb8, 0xff, 0xff, 0xff, 0x7f,            /* 10174: mov eax,0x7fffffff */
    0x83, 0xc0, 0x01,                        /* 10179: add eax,0x1 */
    0xce,                                    /* 1017c: into */
    0xf4,                                    /* 1017d: hlt */
    0x8b, 0x44, 0x24, 0x04,                  /* 1017e: mov eax,DWORD PTR [esp+0x4] */
    0x03, 0x44, 0x24, 0x08,                  /* 10182: add eax,DWORD PTR [esp+0x8] */
    0xc2, 0x08, 0x00,                        /* 10186: ret 0x8 */
    0xba, 0xc5, 0x00, 0x00, 0x00,            /* 10189: mov edx,0xc5 */
    0xc3,                                    /* 1018e: ret */
    0xba, 0xfa, 0x00, 0x00, 0x00,            /* 1018f: mov edx,0xfa */
    0xcb,                                    /* 10194: retf */
    0xbe, 0x40, 0x40, 0x00, 0x00,            /* 10195: mov esi,0x4040 */
    0xcf,                                    /* 1019a: iret */
    /* 16-bit code */
    0x66, 0xb8, 0x16, 0x16, 0x00, 0x00,      /* 1019b: mov eax,0x1616 */
    0x66, 0xea, 0x1c, 0x01, 0x01, 0x00, 0x08, /* 101a1: jmp 0x8:0x1011c */
    0x00,
};

/* pm_string: 32-bit code at 0x10000 */
static const uint8_t pm_string[] = {
    0xfc,                                    /* 10000: cld */
    0xbe, 0xf0, 0x0f, 0x10, 0x00,            /* 10001: mov esi,0x100ff0 */
    0xbf, 0xf8, 0x1f, 0x20, 0x00,            /* 10006: mov edi,0x201ff8 */
    0xb9, 0x20, 0x00, 0x00, 0x00,            /* 1000b: mov ecx,0x20 */
    0xf3, 0xa4,                              /* 10010: rep movs BYTE PTR es:[edi],BYTE PTR ds:[esi] */
    0xbe, 0x00, 0x00, 0x30, 0x00,            /* 10012: mov esi,0x300000 */
    0xbf, 0x00, 0x00, 0x40, 0x00,            /* 10017: mov edi,0x400000 */
    0xb9, 0x20, 0x4e, 0x00, 0x00,            /* 1001c: mov ecx,0x4e20 */
    0xf3, 0xa5,                              /* 10021: rep movs DWORD PTR es:[edi],DWORD PTR ds:[esi] */
    0x89, 0x0d, 0x00, 0x00, 0x02, 0x00,      /* 10023: mov DWORD PTR ds:0x20000,ecx */
    0x89, 0x35, 0x04, 0x00, 0x02, 0x00,      /* 10029: mov DWORD PTR ds:0x20004,esi */
    0x89, 0x3d, 0x08, 0x00, 0x02, 0x00,      /* 1002f: mov DWORD PTR ds:0x20008,edi */
    0xbf, 0x00, 0x00, 0x50, 0x00,            /* 10035: mov edi,0x500000 */
    0xb0, 0xab,                              /* 1003a: mov al,0xab */
    0xb9, 0x10, 0x27, 0x00, 0x00,            /* 1003c: mov ecx,0x2710 */
    0xf3, 0xaa,                              /* 10041: rep stos BYTE PTR es:[edi],al */
    0xbe, 0x00, 0x00, 0x60, 0x00,            /* 10043: mov esi,0x600000 */
    0xbf, 0x01, 0x00, 0x60, 0x00,            /* 10048: mov edi,0x600001 */
    0xb9, 0x10, 0x00, 0x00, 0x00,            /* 1004d: mov ecx,0x10 */
    0xf3, 0xa4,                              /* 10052: rep movs BYTE PTR es:[edi],BYTE PTR ds:[esi] */
    0xfd,                                    /* 10054: std */
    0xbe, 0xfc, 0x0f, 0x10, 0x00,            /* 10055: mov esi,0x100ffc */
    0xbf, 0xfc, 0x0f, 0x70, 0x00,            /* 1005a: mov edi,0x700ffc */
    0xb9, 0x08, 0x00, 0x00, 0x00,            /* 1005f: mov ecx,0x8 */
    0xf3, 0xa5,                              /* 10064: rep movs DWORD PTR es:[edi],DWORD PTR ds:[esi] */
    0xfc,                                    /* 10066: cld */
    0x89, 0x35, 0x0c, 0x00, 0x02, 0x00,      /* 10067: mov DWORD PTR ds:0x2000c,esi */
    0x89, 0x3d, 0x10, 0x00, 0x02, 0x00,      /* 1006d: mov DWORD PTR ds:0x20010,edi */
    0xbe, 0xf0, 0x0f, 0x10, 0x00,            /* 10073: mov esi,0x100ff0 */
    0xbf, 0xf8, 0x1f, 0x20, 0x00,            /* 10078: mov edi,0x201ff8 */
    0xb9, 0x08, 0x00, 0x00, 0x00,            /* 1007d: mov ecx,0x8 */
    0xf3, 0xa7,                              /* 10082: repz cmps DWORD PTR ds:[esi],DWORD PTR es:[edi] */
    0x89, 0x0d, 0x14, 0x00, 0x02, 0x00,      /* 10084: mov DWORD PTR ds:0x20014,ecx */
    0x9c,                                    /* 1008a: pushf */
    0x8f, 0x05, 0x18, 0x00, 0x02, 0x00,      /* 1008b: pop DWORD PTR ds:0x20018 */
    0xc7, 0x05, 0x04, 0x20, 0x20, 0x00, 0x00, /* 10091: mov DWORD PTR ds:0x202004,0x0 */
    0x00, 0x00, 0x00,
    0xbe, 0xf0, 0x0f, 0x10, 0x00,            /* 1009b: mov esi,0x100ff0 */
    0xbf, 0xf8, 0x1f, 0x20, 0x00,            /* 100a0: mov edi,0x201ff8 */
    0xb9, 0x08, 0x00, 0x00, 0x00,            /* 100a5: mov ecx,0x8 */
    0xf3, 0xa7,                              /* 100aa: repz cmps DWORD PTR ds:[esi],DWORD PTR es:[edi] */
    0x89, 0x0d, 0x1c, 0x00, 0x02, 0x00,      /* 100ac: mov DWORD PTR ds:0x2001c,ecx */
    0xbf, 0xf0, 0x0f, 0x10, 0x00,            /* 100b2: mov edi,0x100ff0 */
    0x66, 0xb8, 0xfa, 0x0b,                  /* 100b7: mov ax,0xbfa */
    0xb9, 0x64, 0x00, 0x00, 0x00,            /* 100bb: mov ecx,0x64 */
    0x66, 0xf2, 0xaf,                        /* 100c0: repnz scas ax,WORD PTR es:[edi] */
    0x89, 0x0d, 0x20, 0x00, 0x02, 0x00,      /* 100c3: mov DWORD PTR ds:0x20020,ecx */
    0x89, 0x3d, 0x24, 0x00, 0x02, 0x00,      /* 100c9: mov DWORD PTR ds:0x20024,edi */
    0xbe, 0x00, 0x40, 0x00, 0x00,            /* 100cf: mov esi,0x4000 */
    0x65, 0xad,                              /* 100d4: lods eax,DWORD PTR gs:[esi] */
    0xa3, 0x28, 0x00, 0x02, 0x00,            /* 100d6: mov ds:0x20028,eax */
    0x66, 0xbe, 0x00, 0x20,                  /* 100db: mov si,0x2000 */
    0x66, 0xbf, 0x00, 0x21,                  /* 100df: mov di,0x2100 */
    0xb9, 0x04, 0x00, 0x34, 0x12,            /* 100e3: mov ecx,0x12340004 */
    0x67, 0xf3, 0xa4,                        /* 100e8: rep movs BYTE PTR es:[di],BYTE PTR ds:[si] */
    0x89, 0x0d, 0x2c, 0x00, 0x02, 0x00,      /* 100eb: mov DWORD PTR ds:0x2002c,ecx */
    0x89, 0x35, 0x30, 0x00, 0x02, 0x00,      /* 100f1: mov DWORD PTR ds:0x20030,esi */
    0xbf, 0xf0, 0x0f, 0x10, 0x00,            /* 100f7: mov edi,0x100ff0 */
    0xb9, 0x01, 0x00, 0x00, 0x00,            /* 100fc: mov ecx,0x1 */
    0xb8, 0x11, 0x11, 0x11, 0x11,            /* 10101: mov eax,0x11111111 */
    0xf3, 0xab,                              /* 10106: rep stos DWORD PTR es:[edi],eax */
    0xbf, 0x00, 0x11, 0x10, 0x00,            /* 10108: mov edi,0x101100 */
    0x66, 0xb8, 0x34, 0x12,                  /* 1010d: mov ax,0x1234 */
    0xb9, 0x03, 0x00, 0x00, 0x00,            /* 10111: mov ecx,0x3 */
    0x66, 0xf3, 0xab,                        /* 10116: rep stos WORD PTR es:[edi],ax */
    0x89, 0x3d, 0x34, 0x00, 0x02, 0x00,      /* 10119: mov DWORD PTR ds:0x20034,edi */
    0xf4,                                    /* 1011f: hlt */
};

/* pm_sys: 32-bit code at 0x10000 */
#define PM_SYS_cli 0x1011a
#define PM_SYS_sysenter 0x100fb
#define PM_SYS_user 0x1010d
static const uint8_t pm_sys[] = {
    0xb8, 0x00, 0x00, 0x00, 0x00,            /* 10000: mov eax,0x0 */
    0x0f, 0xa2,                              /* 10005: cpuid */
    0x0f, 0x31,                              /* 10007: rdtsc */
    0x89, 0x15, 0x00, 0x00, 0x02, 0x00,      /* 10009: mov DWORD PTR ds:0x20000,edx */
    0x0f, 0x20, 0xc0,                        /* 1000f: mov eax,cr0 */
    0xa3, 0x04, 0x00, 0x02, 0x00,            /* 10012: mov ds:0x20004,eax */
    0xb8, 0x00, 0x50, 0x34, 0x12,            /* 10017: mov eax,0x12345000 */
    0x0f, 0x22, 0xd8,                        /* 1001c: mov cr3,eax */
    0x0f, 0x20, 0xdb,                        /* 1001f: mov ebx,cr3 */
    0x89, 0x1d, 0x08, 0x00, 0x02, 0x00,      /* 10022: mov DWORD PTR ds:0x20008,ebx */
    0x31, 0xc0,                              /* 10028: xor eax,eax */
    0x0f, 0x22, 0xd8,                        /* 1002a: mov cr3,eax */
    0x66, 0x0f, 0x01, 0x1d, 0x00, 0x40, 0x00, /* 1002d: lidtw ds:0x4000 */
    0x00,
    0x0f, 0x01, 0x0d, 0x10, 0x40, 0x00, 0x00, /* 10035: sidtd ds:0x4010 */
    0x0f, 0x01, 0x1d, 0x20, 0x40, 0x00, 0x00, /* 1003c: lidtd ds:0x4020 */
    0x66, 0xb8, 0x48, 0x00,                  /* 10043: mov ax,0x48 */
    0x0f, 0x00, 0xd8,                        /* 10047: ltr ax */
    0x0f, 0x00, 0xc8,                        /* 1004a: str eax */
    0xa3, 0x0c, 0x00, 0x02, 0x00,            /* 1004d: mov ds:0x2000c,eax */
    0x66, 0xb8, 0x50, 0x00,                  /* 10052: mov ax,0x50 */
    0x0f, 0x00, 0xd0,                        /* 10056: lldt ax */
    0x0f, 0x00, 0xc1,                        /* 10059: sldt ecx */
    0x89, 0x0d, 0x10, 0x00, 0x02, 0x00,      /* 1005c: mov DWORD PTR ds:0x20010,ecx */
    0xbb, 0x10, 0x00, 0x00, 0x00,            /* 10062: mov ebx,0x10 */
    0x0f, 0x02, 0xc3,                        /* 10067: lar eax,ebx */
    0xa3, 0x14, 0x00, 0x02, 0x00,            /* 1006a: mov ds:0x20014,eax */
    0x0f, 0x03, 0xc3,                        /* 1006f: lsl eax,ebx */
    0xa3, 0x18, 0x00, 0x02, 0x00,            /* 10072: mov ds:0x20018,eax */
    0xb8, 0x00, 0x00, 0x00, 0x00,            /* 10077: mov eax,0x0 */
    0xbb, 0x00, 0x0f, 0x00, 0x00,            /* 1007c: mov ebx,0xf00 */
    0x0f, 0x02, 0xc3,                        /* 10081: lar eax,ebx */
    0x9c,                                    /* 10084: pushf */
    0x8f, 0x05, 0x1c, 0x00, 0x02, 0x00,      /* 10085: pop DWORD PTR ds:0x2001c */
    0xa3, 0x20, 0x00, 0x02, 0x00,            /* 1008b: mov ds:0x20020,eax */
    0x66, 0xb8, 0x08, 0x00,                  /* 10090: mov ax,0x8 */
    0x0f, 0x00, 0xe0,                        /* 10094: verr ax */
    0x9c,                                    /* 10097: pushf */
    0x8f, 0x05, 0x24, 0x00, 0x02, 0x00,      /* 10098: pop DWORD PTR ds:0x20024 */
    0x0f, 0x00, 0xe8,                        /* 1009e: verw ax */
    0x9c,                                    /* 100a1: pushf */
    0x8f, 0x05, 0x28, 0x00, 0x02, 0x00,      /* 100a2: pop DWORD PTR ds:0x20028 */
    0x66, 0xb8, 0x10, 0x00,                  /* 100a8: mov ax,0x10 */
    0x0f, 0x00, 0xe8,                        /* 100ac: verw ax */
    0x9c,                                    /* 100af: pushf */
    0x8f, 0x05, 0x2c, 0x00, 0x02, 0x00,      /* 100b0: pop DWORD PTR ds:0x2002c */
    0x0f, 0x01, 0xe0,                        /* 100b6: smsw eax */
    0xa3, 0x30, 0x00, 0x02, 0x00,            /* 100b9: mov ds:0x20030,eax */
    0x83, 0xc8, 0x08,                        /* 100be: or eax,0x8 */
    0x0f, 0x01, 0xf0,                        /* 100c1: lmsw ax */
    0x0f, 0x20, 0xc3,                        /* 100c4: mov ebx,cr0 */
    0x89, 0x1d, 0x34, 0x00, 0x02, 0x00,      /* 100c7: mov DWORD PTR ds:0x20034,ebx */
    0x0f, 0x06,                              /* 100cd: clts */
    0x0f, 0x20, 0xc3,                        /* 100cf: mov ebx,cr0 */
    0x89, 0x1d, 0x38, 0x00, 0x02, 0x00,      /* 100d2: mov DWORD PTR ds:0x20038,ebx */
    0x0f, 0x01, 0x3d, 0x00, 0x10, 0x00, 0x00, /* 100d8: invlpg BYTE PTR ds:0x1000 */
    0x0f, 0x09,                              /* 100df: wbinvd */
    0xb8, 0x00, 0x04, 0x00, 0x00,            /* 100e1: mov eax,0x400 */
    0x0f, 0x23, 0xf8,                        /* 100e6: mov dr7,eax */
    0x0f, 0x21, 0xf8,                        /* 100e9: mov eax,dr7 */
    0xa3, 0x3c, 0x00, 0x02, 0x00,            /* 100ec: mov ds:0x2003c,eax */
    0xb9, 0x10, 0x00, 0x00, 0x00,            /* 100f1: mov ecx,0x10 */
    0x0f, 0x32,                              /* 100f6: rdmsr */
    0x0f, 0x34,                              /* 100f8: sysenter */
    0xf4,                                    /* 100fa: hlt */
    0x89, 0x25, 0x40, 0x00, 0x02, 0x00,      /* 100fb: mov DWORD PTR ds:0x20040,esp */
    0xba, 0x0d, 0x01, 0x01, 0x00,            /* 10101: mov edx,0x1010d */
    0xb9, 0x00, 0xf0, 0x07, 0x00,            /* 10106: mov ecx,0x7f000 */
    0x0f, 0x35,                              /* 1010b: sysexit */
    0x89, 0x25, 0x44, 0x00, 0x02, 0x00,      /* 1010d: mov DWORD PTR ds:0x20044,esp */
    0x8c, 0xc8,                              /* 10113: mov eax,cs */
    0xa3, 0x48, 0x00, 0x02, 0x00,            /* 10115: mov ds:0x20048,eax */
    0xfa,                                    /* 1011a: cli */
    0xf4,                                    /* 1011b: hlt */
};

/* pm_exc: 32-bit code at 0x10000 */
#define PM_EXC_smc 0x10007
#define PM_EXC_ud 0x1001a
static const uint8_t pm_exc[] = {
    0xc6, 0x05, 0x08, 0x00, 0x01, 0x00, 0x42, /* 10000: mov BYTE PTR ds:0x10008,0x42 */
    0xb0, 0x11,                              /* 10007: mov al,0x11 */
    0xa3, 0x00, 0x00, 0x02, 0x00,            /* 10009: mov ds:0x20000,eax */
    0xb8, 0xff, 0xff, 0xff, 0x7f,            /* 1000e: mov eax,0x7fffffff */
    0xf0, 0x01, 0x05, 0x04, 0x00, 0x02, 0x00, /* 10013: lock add DWORD PTR ds:0x20004,eax */
    0x0f, 0x04,                              /* 1001a: (bad) */
    0xf4,                                    /* 1001c: hlt */
};

/* pm_smc: 32-bit code at 0x10000 */
#define PM_SMC_patch 0x1000e
static const uint8_t pm_smc[] = {
    0xbf, 0x0e, 0x00, 0x01, 0x00,            /* 10000: mov edi,0x1000e */
    0xb9, 0x02, 0x00, 0x00, 0x00,            /* 10005: mov ecx,0x2 */
    0xb0, 0x90,                              /* 1000a: mov al,0x90 */
    0xf3, 0xaa,                              /* 1000c: rep stos BYTE PTR es:[edi],al */
    0xb0, 0x11,                              /* 1000e: mov al,0x11 */
    0xa3, 0x00, 0x00, 0x02, 0x00,            /* 10010: mov ds:0x20000,eax */
    0xf4,                                    /* 10015: hlt */
};

/* pm_int3: 32-bit code at 0x10000 */
#define PM_INT3_i3 0x10000
static const uint8_t pm_int3[] = {
    0xcc,                                    /* 10000: int3 */
    0xf4,                                    /* 10001: hlt */
};

/* pm_lock: 32-bit code at 0x10000 */
#define PM_LOCK_lock 0x10000
static const uint8_t pm_lock[] = {
    0xf0, 0x01, 0xd8,                        /* 10000: lock add eax,ebx */
    0xf4,                                    /* 10003: hlt */
};

/* pm_ud2: 32-bit code at 0x10000 */
#define PM_UD2_ud2 0x10000
static const uint8_t pm_ud2[] = {
    0x0f, 0x0b,                              /* 10000: ud2 */
    0xf4,                                    /* 10002: hlt */
};

/* pm_fpu: 32-bit code at 0x10000 */
#define PM_FPU_fpu 0x10000
static const uint8_t pm_fpu[] = {
    0xdb, 0xe3,                              /* 10000: fninit */
    0xf4,                                    /* 10002: hlt */
};

/* pm_de: 32-bit code at 0x10000 */
#define PM_DE_de 0x10009
static const uint8_t pm_de[] = {
    0xb8, 0x01, 0x00, 0x00, 0x00,            /* 10000: mov eax,0x1 */
    0x31, 0xd2,                              /* 10005: xor edx,edx */
    0x31, 0xc9,                              /* 10007: xor ecx,ecx */
    0xf7, 0xf1,                              /* 10009: div ecx */
    0xf4,                                    /* 1000b: hlt */
};

/* pm_cpl3: 32-bit code at 0x10000 */
#define PM_CPL3_c3 0x10000
#define PM_CPL3_rdmsr 0x10016
static const uint8_t pm_cpl3[] = {
    0x9c,                                    /* 10000: pushf */
    0x58,                                    /* 10001: pop eax */
    0x0d, 0x01, 0x32, 0x00, 0x00,            /* 10002: or eax,0x3201 */
    0x50,                                    /* 10007: push eax */
    0x9d,                                    /* 10008: popf */
    0x9c,                                    /* 10009: pushf */
    0x5b,                                    /* 1000a: pop ebx */
    0x89, 0x1d, 0x00, 0x00, 0x02, 0x00,      /* 1000b: mov DWORD PTR ds:0x20000,ebx */
    0xb9, 0x10, 0x00, 0x00, 0x00,            /* 10011: mov ecx,0x10 */
    0x0f, 0x32,                              /* 10016: rdmsr */
    0xf4,                                    /* 10018: hlt */
};

/* lm_alu: 64-bit code at 0x10000 */
#define LM_ALU_data 0x102a0
#define LM_ALU_here 0x10119
#define LM_ALU_sub 0x10298
static const uint8_t lm_alu[] = {
    0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff, /* 10000: mov rax,0xffffffffffffffff */
    0x48, 0x83, 0xc0, 0x02,                  /* 10007: add rax,0x2 */
    0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x02, /* 1000b: mov QWORD PTR ds:0x20000,rax */
    0x00,
    0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff, /* 10013: mov rax,0xffffffffffffffff */
    0xb8, 0x05, 0x00, 0x00, 0x00,            /* 1001a: mov eax,0x5 */
    0x48, 0x89, 0x04, 0x25, 0x08, 0x00, 0x02, /* 1001f: mov QWORD PTR ds:0x20008,rax */
    0x00,
    0x48, 0xbb, 0x88, 0x77, 0x66, 0x55, 0x44, /* 10027: movabs rbx,0x1122334455667788 */
    0x33, 0x22, 0x11,
    0xb3, 0x99,                              /* 10031: mov bl,0x99 */
    0x40, 0xb6, 0x12,                        /* 10033: mov sil,0x12 */
    0x49, 0xc7, 0xc0, 0x00, 0x00, 0x00, 0x00, /* 10036: mov r8,0x0 */
    0x41, 0xb0, 0x34,                        /* 1003d: mov r8b,0x34 */
    0x48, 0x89, 0x1c, 0x25, 0x10, 0x00, 0x02, /* 10040: mov QWORD PTR ds:0x20010,rbx */
    0x00,
    0x48, 0x89, 0x34, 0x25, 0x18, 0x00, 0x02, /* 10048: mov QWORD PTR ds:0x20018,rsi */
    0x00,
    0x4c, 0x89, 0x04, 0x25, 0x20, 0x00, 0x02, /* 10050: mov QWORD PTR ds:0x20020,r8 */
    0x00,
    0x48, 0xb9, 0xbb, 0xbb, 0xbb, 0xbb, 0xaa, /* 10058: movabs rcx,0xaaaaaaaabbbbbbbb */
    0xaa, 0xaa, 0xaa,
    0xba, 0x01, 0x00, 0x00, 0x00,            /* 10062: mov edx,0x1 */
    0x83, 0xfa, 0x02,                        /* 10067: cmp edx,0x2 */
    0x0f, 0x4f, 0xca,                        /* 1006a: cmovg ecx,edx */
    0x48, 0x89, 0x0c, 0x25, 0x28, 0x00, 0x02, /* 1006d: mov QWORD PTR ds:0x20028,rcx */
    0x00,
    0xb8, 0xfe, 0xff, 0xff, 0xff,            /* 10075: mov eax,0xfffffffe */
    0x48, 0x63, 0xd0,                        /* 1007a: movsxd rdx,eax */
    0x48, 0x89, 0x14, 0x25, 0x30, 0x00, 0x02, /* 1007d: mov QWORD PTR ds:0x20030,rdx */
    0x00,
    0xb8, 0x00, 0x00, 0x00, 0x80,            /* 10085: mov eax,0x80000000 */
    0x48, 0x98,                              /* 1008a: cdqe */
    0x48, 0x89, 0x04, 0x25, 0x38, 0x00, 0x02, /* 1008c: mov QWORD PTR ds:0x20038,rax */
    0x00,
    0x48, 0x99,                              /* 10094: cqo */
    0x48, 0x89, 0x14, 0x25, 0x40, 0x00, 0x02, /* 10096: mov QWORD PTR ds:0x20040,rdx */
    0x00,
    0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x01, /* 1009e: movabs rax,0x100000000 */
    0x00, 0x00, 0x00,
    0x48, 0xbb, 0x00, 0x00, 0x00, 0x00, 0x01, /* 100a8: movabs rbx,0x100000000 */
    0x00, 0x00, 0x00,
    0x48, 0xf7, 0xe3,                        /* 100b2: mul rbx */
    0x48, 0x89, 0x04, 0x25, 0x48, 0x00, 0x02, /* 100b5: mov QWORD PTR ds:0x20048,rax */
    0x00,
    0x48, 0x89, 0x14, 0x25, 0x50, 0x00, 0x02, /* 100bd: mov QWORD PTR ds:0x20050,rdx */
    0x00,
    0x48, 0xc7, 0xc2, 0x01, 0x00, 0x00, 0x00, /* 100c5: mov rdx,0x1 */
    0x48, 0xc7, 0xc0, 0x00, 0x00, 0x00, 0x00, /* 100cc: mov rax,0x0 */
    0x48, 0xc7, 0xc3, 0x02, 0x00, 0x00, 0x00, /* 100d3: mov rbx,0x2 */
    0x48, 0xf7, 0xf3,                        /* 100da: div rbx */
    0x48, 0x89, 0x04, 0x25, 0x58, 0x00, 0x02, /* 100dd: mov QWORD PTR ds:0x20058,rax */
    0x00,
    0x48, 0xc7, 0xc0, 0x01, 0x00, 0x00, 0x00, /* 100e5: mov rax,0x1 */
    0x48, 0xc1, 0xe0, 0x3f,                  /* 100ec: shl rax,0x3f */
    0x48, 0x89, 0x04, 0x25, 0x60, 0x00, 0x02, /* 100f0: mov QWORD PTR ds:0x20060,rax */
    0x00,
    0x48, 0xc7, 0xc0, 0xfd, 0xff, 0xff, 0xff, /* 100f8: mov rax,0xfffffffffffffffd */
    0x48, 0xc7, 0xc3, 0x05, 0x00, 0x00, 0x00, /* 100ff: mov rbx,0x5 */
    0x48, 0x0f, 0xaf, 0xc3,                  /* 10106: imul rax,rbx */
    0x48, 0x89, 0x04, 0x25, 0x68, 0x00, 0x02, /* 1010a: mov QWORD PTR ds:0x20068,rax */
    0x00,
    0x48, 0x8d, 0x05, 0x00, 0x00, 0x00, 0x00, /* 10112: lea rax,[rip+0x0] # 0x10119 */
    0x48, 0x89, 0x04, 0x25, 0x70, 0x00, 0x02, /* 10119: mov QWORD PTR ds:0x20070,rax */
    0x00,
    0x4c, 0x8b, 0x0d, 0x78, 0x01, 0x00, 0x00, /* 10121: mov r9,QWORD PTR [rip+0x178] # 0x102a0 */
    0x4c, 0x89, 0x0c, 0x25, 0x78, 0x00, 0x02, /* 10128: mov QWORD PTR ds:0x20078,r9 */
    0x00,
    0x48, 0x89, 0xe3,                        /* 10130: mov rbx,rsp */
    0x68, 0xff, 0xff, 0xff, 0x7f,            /* 10133: push 0x7fffffff */
    0x59,                                    /* 10138: pop rcx */
    0x6a, 0xfe,                              /* 10139: push 0xfffffffffffffffe */
    0x5a,                                    /* 1013b: pop rdx */
    0x48, 0x29, 0xe3,                        /* 1013c: sub rbx,rsp */
    0x48, 0x89, 0x0c, 0x25, 0x80, 0x00, 0x02, /* 1013f: mov QWORD PTR ds:0x20080,rcx */
    0x00,
    0x48, 0x89, 0x14, 0x25, 0x88, 0x00, 0x02, /* 10147: mov QWORD PTR ds:0x20088,rdx */
    0x00,
    0x48, 0x89, 0xe3,                        /* 1014f: mov rbx,rsp */
    0x66, 0x50,                              /* 10152: push ax */
    0x48, 0x29, 0xe3,                        /* 10154: sub rbx,rsp */
    0x66, 0x58,                              /* 10157: pop ax */
    0x48, 0x89, 0x1c, 0x25, 0x90, 0x00, 0x02, /* 10159: mov QWORD PTR ds:0x20090,rbx */
    0x00,
    0xe8, 0x32, 0x01, 0x00, 0x00,            /* 10161: call 0x10298 */
    0x48, 0x89, 0x04, 0x25, 0x98, 0x00, 0x02, /* 10166: mov QWORD PTR ds:0x20098,rax */
    0x00,
    0x48, 0xb9, 0x00, 0x00, 0x00, 0x00, 0x01, /* 1016e: movabs rcx,0x100000000 */
    0x00, 0x00, 0x00,
    0xe3, 0x09,                              /* 10178: jrcxz 0x10183 */
    0x48, 0xc7, 0xc0, 0x01, 0x00, 0x00, 0x00, /* 1017a: mov rax,0x1 */
    0xeb, 0x07,                              /* 10181: jmp 0x1018a */
    0x48, 0xc7, 0xc0, 0x02, 0x00, 0x00, 0x00, /* 10183: mov rax,0x2 */
    0x48, 0x89, 0x04, 0x25, 0xa0, 0x00, 0x02, /* 1018a: mov QWORD PTR ds:0x200a0,rax */
    0x00,
    0x48, 0xb9, 0x01, 0x00, 0x00, 0x00, 0x01, /* 10192: movabs rcx,0x100000001 */
    0x00, 0x00, 0x00,
    0x67, 0xe2, 0x09,                        /* 1019c: addr32 loop 0x101a8 */
    0x48, 0xc7, 0xc0, 0x03, 0x00, 0x00, 0x00, /* 1019f: mov rax,0x3 */
    0xeb, 0x07,                              /* 101a6: jmp 0x101af */
    0x48, 0xc7, 0xc0, 0x04, 0x00, 0x00, 0x00, /* 101a8: mov rax,0x4 */
    0x48, 0x89, 0x04, 0x25, 0xa8, 0x00, 0x02, /* 101af: mov QWORD PTR ds:0x200a8,rax */
    0x00,
    0x48, 0x89, 0x0c, 0x25, 0xb0, 0x00, 0x02, /* 101b7: mov QWORD PTR ds:0x200b0,rcx */
    0x00,
    0x48, 0xc7, 0x04, 0x25, 0xc0, 0x00, 0x02, /* 101bf: mov QWORD PTR ds:0x200c0,0x5 */
    0x00, 0x05, 0x00, 0x00, 0x00,
    0x48, 0xc7, 0x04, 0x25, 0xc8, 0x00, 0x02, /* 101cb: mov QWORD PTR ds:0x200c8,0x6 */
    0x00, 0x06, 0x00, 0x00, 0x00,
    0x48, 0xc7, 0xc0, 0x05, 0x00, 0x00, 0x00, /* 101d7: mov rax,0x5 */
    0x48, 0xc7, 0xc2, 0x06, 0x00, 0x00, 0x00, /* 101de: mov rdx,0x6 */
    0x48, 0xc7, 0xc3, 0x07, 0x00, 0x00, 0x00, /* 101e5: mov rbx,0x7 */
    0x48, 0xc7, 0xc1, 0x08, 0x00, 0x00, 0x00, /* 101ec: mov rcx,0x8 */
    0x48, 0x0f, 0xc7, 0x0c, 0x25, 0xc0, 0x00, /* 101f3: cmpxchg16b OWORD PTR ds:0x200c0 */
    0x02, 0x00,
    0x0f, 0x94, 0x04, 0x25, 0xb8, 0x00, 0x02, /* 101fc: sete BYTE PTR ds:0x200b8 */
    0x00,
    0x48, 0xc7, 0xc0, 0x0a, 0x00, 0x00, 0x00, /* 10204: mov rax,0xa */
    0x48, 0xc7, 0x04, 0x25, 0xd0, 0x00, 0x02, /* 1020b: mov QWORD PTR ds:0x200d0,0x1 */
    0x00, 0x01, 0x00, 0x00, 0x00,
    0xf0, 0x48, 0x0f, 0xc1, 0x04, 0x25, 0xd0, /* 10217: lock xadd QWORD PTR ds:0x200d0,rax */
    0x00, 0x02, 0x00,
    0x48, 0x89, 0x04, 0x25, 0xd8, 0x00, 0x02, /* 10221: mov QWORD PTR ds:0x200d8,rax */
    0x00,
    0x48, 0xc7, 0xc6, 0xf0, 0x0f, 0x10, 0x00, /* 10229: mov rsi,0x100ff0 */
    0x48, 0xc7, 0xc7, 0xf0, 0x1f, 0x20, 0x00, /* 10230: mov rdi,0x201ff0 */
    0x48, 0xc7, 0xc1, 0x04, 0x00, 0x00, 0x00, /* 10237: mov rcx,0x4 */
    0xf3, 0x48, 0xa5,                        /* 1023e: rep movs QWORD PTR es:[rdi],QWORD PTR ds:[rsi] */
    0x48, 0xc7, 0xc7, 0x00, 0x00, 0x50, 0x00, /* 10241: mov rdi,0x500000 */
    0x48, 0xb8, 0x08, 0x07, 0x06, 0x05, 0x04, /* 10248: movabs rax,0x102030405060708 */
    0x03, 0x02, 0x01,
    0x48, 0xc7, 0xc1, 0x03, 0x00, 0x00, 0x00, /* 10252: mov rcx,0x3 */
    0xf3, 0x48, 0xab,                        /* 10259: rep stos QWORD PTR es:[rdi],rax */
    0x49, 0xba, 0x10, 0x32, 0x54, 0x76, 0x98, /* 1025c: movabs r10,0xfedcba9876543210 */
    0xba, 0xdc, 0xfe,
    0x49, 0x0f, 0xca,                        /* 10266: bswap r10 */
    0x4c, 0x89, 0x14, 0x25, 0xe0, 0x00, 0x02, /* 10269: mov QWORD PTR ds:0x200e0,r10 */
    0x00,
    0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, /* 10271: movabs rax,0x8000000000000000 */
    0x00, 0x00, 0x80,
    0x48, 0xc1, 0xf8, 0x3f,                  /* 1027b: sar rax,0x3f */
    0x48, 0x89, 0x04, 0x25, 0xe8, 0x00, 0x02, /* 1027f: mov QWORD PTR ds:0x200e8,rax */
    0x00,
    0xb8, 0xff, 0xff, 0xff, 0xff,            /* 10287: mov eax,0xffffffff */
    0xc1, 0xe0, 0x00,                        /* 1028c: shl eax,0x0 */
    0x48, 0x89, 0x04, 0x25, 0xf0, 0x00, 0x02, /* 1028f: mov QWORD PTR ds:0x200f0,rax */
    0x00,
    0xf4,                                    /* 10297: hlt */
    0x48, 0xc7, 0xc0, 0xab, 0x05, 0x00, 0x00, /* 10298: mov rax,0x5ab */
    0xc3,                                    /* 1029f: ret */
    0xef,                                    /* 102a0: out dx,eax */
    0xcd, 0xab,                              /* 102a1: int 0xab */
    0x89, 0x67, 0x45,                        /* 102a3: mov DWORD PTR [rdi+0x45],esp */
    0x23, 0x01,                              /* 102a6: and eax,DWORD PTR [rcx] */
};

/* lm_sys: 64-bit code at 0x10000 */
#define LM_SYS_aftersys 0x10065
#define LM_SYS_h40 0x10087
#define LM_SYS_ret3 0x10086
#define LM_SYS_syscall 0x10066
static const uint8_t lm_sys[] = {
    0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, /* 10000: mov rax,QWORD PTR ds:0x400000 */
    0x00,
    0x48, 0x89, 0x04, 0x25, 0x18, 0x00, 0x02, /* 10008: mov QWORD PTR ds:0x20018,rax */
    0x00,
    0x48, 0xc7, 0x04, 0x25, 0x10, 0x20, 0x03, /* 10010: mov QWORD PTR ds:0x32010,0x600087 */
    0x00, 0x87, 0x00, 0x60, 0x00,
    0x0f, 0x01, 0x3c, 0x25, 0x00, 0x00, 0x40, /* 1001c: invlpg BYTE PTR ds:0x400000 */
    0x00,
    0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, /* 10024: mov rax,QWORD PTR ds:0x400000 */
    0x00,
    0x48, 0x89, 0x04, 0x25, 0x20, 0x00, 0x02, /* 1002c: mov QWORD PTR ds:0x20020,rax */
    0x00,
    0x0f, 0x01, 0xf8,                        /* 10034: swapgs */
    0xb9, 0x02, 0x01, 0x00, 0xc0,            /* 10037: mov ecx,0xc0000102 */
    0xb8, 0x33, 0x33, 0x00, 0x00,            /* 1003c: mov eax,0x3333 */
    0x31, 0xd2,                              /* 10041: xor edx,edx */
    0x0f, 0x30,                              /* 10043: wrmsr */
    0xcd, 0x40,                              /* 10045: int 0x40 */
    0x48, 0x89, 0x34, 0x25, 0x28, 0x00, 0x02, /* 10047: mov QWORD PTR ds:0x20028,rsi */
    0x00,
    0x48, 0xb9, 0x80, 0x00, 0x00, 0xc0, 0x00, /* 1004f: movabs rcx,0xc0000080 */
    0x00, 0x00, 0x00,
    0x0f, 0x32,                              /* 10059: rdmsr */
    0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x02, /* 1005b: mov QWORD PTR ds:0x20000,rax */
    0x00,
    0x0f, 0x05,                              /* 10063: syscall */
    0xf4,                                    /* 10065: hlt */
    0x48, 0x89, 0x0c, 0x25, 0x08, 0x00, 0x02, /* 10066: mov QWORD PTR ds:0x20008,rcx */
    0x00,
    0x48, 0xc7, 0xc0, 0x5c, 0x00, 0x00, 0x00, /* 1006e: mov rax,0x5c */
    0x48, 0xc7, 0xc1, 0x86, 0x00, 0x01, 0x00, /* 10075: mov rcx,0x10086 */
    0x49, 0xc7, 0xc3, 0x02, 0x00, 0x00, 0x00, /* 1007c: mov r11,0x2 */
    0x48, 0x0f, 0x07,                        /* 10083: sysretq */
    0xf4,                                    /* 10086: hlt */
    0x48, 0xc7, 0xc6, 0x40, 0x40, 0x00, 0x00, /* 10087: mov rsi,0x4040 */
    0x48, 0xcf,                              /* 1008e: iretq */
};

/* lm_de: 64-bit code at 0x10000 */
#define LM_DE_de 0x1000d
static const uint8_t lm_de[] = {
    0x48, 0xc7, 0xc0, 0x01, 0x00, 0x00, 0x00, /* 10000: mov rax,0x1 */
    0x48, 0x31, 0xd2,                        /* 10007: xor rdx,rdx */
    0x48, 0x31, 0xc9,                        /* 1000a: xor rcx,rcx */
    0x48, 0xf7, 0xf1,                        /* 1000d: div rcx */
    0xf4,                                    /* 10010: hlt */
};

/* lm_ud: 64-bit code at 0x10000 */
#define LM_UD_ud 0x10000
static const uint8_t lm_ud[] = {
    0x0f, 0x0b,                              /* 10000: ud2 */
    0xf4,                                    /* 10002: hlt */
};

/* lm_perf: 64-bit code at 0x10000 */
static const uint8_t lm_perf[] = {
    0x01, 0xd8,                              /* 10000: add eax,ebx */
    0x31, 0xc2,                              /* 10002: xor edx,eax */
    0x83, 0xeb, 0x03,                        /* 10004: sub ebx,0x3 */
    0xff, 0xc6,                              /* 10007: inc esi */
    0xff, 0xc9,                              /* 10009: dec ecx */
    0x75, 0xf3,                              /* 1000b: jne 0x10000 */
    0xf4,                                    /* 1000d: hlt */
};

/* ------------------------------------------------------------------ */
/* The machine. */

typedef struct PortLog {
    uint16_t port;
    uint8_t size;
    uint32_t value;
} PortLog;

typedef struct Tm {
    MemRegion *global, *ram, *io_root;
    CpuView *view;
    AddressSpace *io_as;
    CodeCache *cc;
    X86Cpu *cpu;
    uint8_t *mem;
    PortLog log[64];
    unsigned nlog;
    unsigned reads;
    int irq_calls;  /* pending_irq: -1 on the first call, then this vector once */
    int irq_vector;
} Tm;

static Tm tm;

static MemResult port_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                           MemAttrs attrs)
{
    Tm *m = opaque;
    *value = 0x40 + m->reads++;
    return MEM_OK;
}

static MemResult port_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                            MemAttrs attrs)
{
    Tm *m = opaque;
    if (m->nlog < G_N_ELEMENTS(m->log)) {
        m->log[m->nlog++] = (PortLog){ (uint16_t)(0x80 + offset), (uint8_t)size, (uint32_t)value };
    }
    return MEM_OK;
}

static const MemRegionOps port_ops = {
    .read = port_read,
    .write = port_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { 1, 4, true },
    .impl = { 1, 4, true },
};

static int test_pending_irq(void *machine, X86Cpu *cpu)
{
    Tm *m = machine;
    if (m->irq_vector < 0) {
        return -1;
    }
    if (m->irq_calls++ == 0) {
        return -1;
    }
    int v = m->irq_vector;
    m->irq_vector = -1;
    return v;
}

static const X86MachineOps test_mops = { .pending_irq = test_pending_irq };

static void machine_new(void)
{
    GError *err = NULL;
    memset(&tm, 0, sizeof(tm));
    tm.irq_vector = -1;
    tm.global = mr_new_container("global", MEM_SIZE_FULL, &err);
    ck_assert_ptr_nonnull(tm.global);
    tm.ram = mr_new_ram("ram", RAM_SIZE, &err);
    ck_assert_ptr_nonnull(tm.ram);
    ck_assert(mr_add_subregion(tm.global, 0, tm.ram, &err));
    tm.mem = mr_ram_ptr(tm.ram);
    memset(tm.mem, 0, RAM_SIZE);
    CpuViewConfig cfg = { .cpu_index = 0, .global_map = tm.global };
    tm.view = cpu_view_new(&cfg, &err);
    ck_assert_ptr_nonnull(tm.view);
    tm.io_root = mr_new_container("io", 0x10000, &err);
    MemRegion *dev = mr_new_mmio("ports", 8, &port_ops, &tm, &err);
    ck_assert_ptr_nonnull(dev);
    ck_assert(mr_add_subregion(tm.io_root, 0x80, dev, &err));
    mr_unref(dev);
    tm.io_as = as_new("io", tm.io_root, &err);
    ck_assert_ptr_nonnull(tm.io_as);
    tm.cc = code_cache_new();
    tm.cpu = x86_cpu_new(0, tm.view, tm.io_as, tm.cc, &test_mops, &tm, &err);
    ck_assert_msg(tm.cpu != NULL, "x86_cpu_new: %s", err ? err->message : "?");
}

static void machine_free(void)
{
    x86_cpu_free(tm.cpu);
    code_cache_free(tm.cc);
    as_free(tm.io_as);
    mr_unref(tm.io_root);
    cpu_view_free(tm.view);
    mr_unref(tm.ram);
    mr_unref(tm.global);
}

/* Guest memory, written like a device would (code caches are told). */
static void put(uint64_t addr, const void *p, size_t len)
{
    ck_assert(addr + len <= RAM_SIZE);
    mr_note_write(tm.ram, addr, len);
    memcpy(tm.mem + addr, p, len);
}

static void w8(uint64_t a, uint8_t v) { put(a, &v, 1); }
static void w16(uint64_t a, uint16_t v) { put(a, &v, 2); }
static void w32(uint64_t a, uint32_t v) { put(a, &v, 4); }
static void w64(uint64_t a, uint64_t v) { put(a, &v, 8); }
static uint8_t r8(uint64_t a) { return tm.mem[a]; }
static uint16_t r16(uint64_t a) { uint16_t v; memcpy(&v, tm.mem + a, 2); return v; }
static uint32_t r32(uint64_t a) { uint32_t v; memcpy(&v, tm.mem + a, 4); return v; }
static uint64_t r64(uint64_t a) { uint64_t v; memcpy(&v, tm.mem + a, 8); return v; }

#define LOAD(addr, prog) put((addr), (prog), sizeof(prog))

/* Run until HLT (or the budget runs out: a failure). */
static void run_to_hlt(uint64_t budget)
{
    X86Cpu *cpu = tm.cpu;
    cpu->halted = false;
    X86Exit e = x86_cpu_run(cpu, budget);
    ck_assert_msg(e == X86_EXIT_HALTED, "exit %d at %04x:%" G_GINT64_MODIFIER "x, icount %"
                  G_GINT64_MODIFIER "u", (int)e, cpu->segs[S_CS].selector, cpu->rip, cpu->icount);
}

#define CK_EQ(got, want)                                                                     \
    do {                                                                                     \
        uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want);                                \
        ck_assert_msg(g_ == w_, "%s: got 0x%" G_GINT64_MODIFIER "x, want 0x%"                \
                      G_GINT64_MODIFIER "x", #got, g_, w_);                                  \
    } while (0)

/* Result slots: {value, mask}; mask 0 = not checked. */
typedef struct Expect {
    uint64_t value, mask;
} Expect;

#define ALL ~0ull
#define FL 0x8d5ull   /* the six arithmetic flags */

static void check_slots(uint64_t base, unsigned slot, const Expect *e, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (!e[i].mask) {
            continue;
        }
        uint64_t got = slot == 8 ? r64(base + 8 * i) : slot == 4 ? r32(base + 4 * i)
                                                                 : r16(base + 2 * i);
        ck_assert_msg((got & e[i].mask) == (e[i].value & e[i].mask),
                      "slot %u: got 0x%" G_GINT64_MODIFIER "x, want 0x%" G_GINT64_MODIFIER
                      "x (mask 0x%" G_GINT64_MODIFIER "x)", i, got, e[i].value, e[i].mask);
    }
}

/* ------------------------------------------------------------------ */
/* Modes. */

static void write_stubs(unsigned mode)
{
    for (unsigned v = 0; v < 256; v++) {
        uint8_t s[16];
        unsigned n = 0;
        if (mode == 16) {
            s[n++] = 0xc7; s[n++] = 0x06; s[n++] = VEC & 0xff; s[n++] = VEC >> 8;
            s[n++] = (uint8_t)v; s[n++] = 0;
        } else {
            s[n++] = 0xc7;
            if (mode == 64) {
                s[n++] = 0x04; s[n++] = 0x25;
            } else {
                s[n++] = 0x05;
            }
            s[n++] = VEC & 0xff; s[n++] = VEC >> 8; s[n++] = 0; s[n++] = 0;
            s[n++] = (uint8_t)v; s[n++] = 0; s[n++] = 0; s[n++] = 0;
        }
        s[n++] = 0xf4;
        put(STUBS + 16 * v, s, n);
    }
    w32(VEC, 0xffffffffu);
}

static const uint64_t gdt[] = {
    0,
    0x00cf9b000000ffffull, /* 0x08 code32 DPL0 */
    0x00cf93000000ffffull, /* 0x10 data32 DPL0 */
    0x00009b010000ffffull, /* 0x18 code16, base 0x10000 */
    0x00af9b000000ffffull, /* 0x20 code64 DPL0 */
    0x00cf93000000ffffull, /* 0x28 data DPL0 */
    0,                     /* 0x30 */
    0x00cff3000000ffffull, /* 0x38 data DPL3 */
    0x00affb000000ffffull, /* 0x40 code64 DPL3 */
    0x0000890020000067ull, /* 0x48 TSS32 available, base 0x2000 */
    0x000082002400000full, /* 0x50 LDT, base 0x2400 */
    0x00cffb000000ffffull, /* 0x58 code32 DPL3 */
    0x00cff3000000ffffull, /* 0x60 data32 DPL3 */
    0x0000890020000067ull, /* 0x68 TSS64 (16 bytes) */
    0,
};

static X86Seg flat(uint16_t sel, uint32_t attr)
{
    return (X86Seg){ sel, 0, 0xffffffffu, attr };
}

static void set_gate32(unsigned v, uint32_t off, unsigned dpl)
{
    uint64_t g = (off & 0xffff) | (0x08ull << 16) | ((uint64_t)(0x8e | dpl << 5) << 40) |
                 ((uint64_t)(off >> 16) << 48);
    w64(IDT + 8 * v, g);
}

static void set_gate64(unsigned v, uint64_t off, unsigned dpl)
{
    uint64_t g = (off & 0xffff) | (0x20ull << 16) | ((uint64_t)(0x8e | dpl << 5) << 40) |
                 (((off >> 16) & 0xffff) << 48);
    w64(IDT + 16 * v, g);
    w64(IDT + 16 * v + 8, off >> 32);
}

static void setup_real(void)
{
    X86Cpu *cpu = tm.cpu;
    x86_cpu_reset(cpu);
    for (int s = 0; s < 6; s++) {
        cpu->segs[s] = (X86Seg){ 0, 0, 0xffff, X86_SEGA_P | X86_SEGA_S | 0x3 };
    }
    cpu->segs[S_CS].attr = X86_SEGA_P | X86_SEGA_S | 0xb;
    memset(cpu->regs, 0, sizeof(cpu->regs));
    cpu->regs[R_SP] = 0x9000;
    cpu->rip = CODE16;
    cpu->idtr = (X86Table){ 0, 0x3ff };
    write_stubs(16);
    for (unsigned v = 0; v < 256; v++) {
        w16(4 * v, (uint16_t)(STUBS + 16 * v));
        w16(4 * v + 2, 0);
    }
}

static void setup_pm32(void)
{
    X86Cpu *cpu = tm.cpu;
    x86_cpu_reset(cpu);
    put(GDT, gdt, sizeof(gdt));
    cpu->gdtr = (X86Table){ GDT, sizeof(gdt) - 1 };
    cpu->idtr = (X86Table){ IDT, 0x7ff };
    cpu->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
    cpu->segs[S_CS] = flat(0x08, 0xc09b);
    for (int s = 0; s < 6; s++) {
        if (s != S_CS) {
            cpu->segs[s] = flat(0x10, 0xc093);
        }
    }
    cpu->tr = (X86Seg){ 0x48, TSS, 0x67, 0x8b };
    w32(TSS + 4, STACK0);
    w32(TSS + 8, 0x10);
    cpu->cpl = 0;
    memset(cpu->regs, 0, sizeof(cpu->regs));
    cpu->regs[R_SP] = STACK;
    cpu->rip = CODE;
    write_stubs(32);
    for (unsigned v = 0; v < 256; v++) {
        set_gate32(v, STUBS + 16 * v, 3);
    }
    x86_paging_changed(cpu, false);
}

static void setup_lm64(void)
{
    X86Cpu *cpu = tm.cpu;
    x86_cpu_reset(cpu);
    put(GDT, gdt, sizeof(gdt));
    w64(PT, (PT + 0x1000) | 7);
    w64(PT + 0x1000, (PT + 0x2000) | 7);
    for (unsigned i = 0; i < 512; i++) {
        w64(PT + 0x2000 + 8 * i, ((uint64_t)i << 21) | 0x87);
    }
    cpu->gdtr = (X86Table){ GDT, sizeof(gdt) - 1 };
    cpu->idtr = (X86Table){ IDT, 0xfff };
    cpu->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
    cpu->cr4 = X86_CR4_PAE;
    cpu->cr3 = PT;
    cpu->efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_SCE;
    cpu->segs[S_CS] = flat(0x20, 0xa09b);
    for (int s = 0; s < 6; s++) {
        if (s != S_CS) {
            cpu->segs[s] = flat(0x10, 0xc093);
        }
    }
    cpu->tr = (X86Seg){ 0x68, TSS, 0x67, 0x8b };
    w64(TSS + 4, STACK0);
    cpu->cpl = 0;
    memset(cpu->regs, 0, sizeof(cpu->regs));
    cpu->regs[R_SP] = STACK;
    cpu->rip = CODE;
    write_stubs(64);
    for (unsigned v = 0; v < 256; v++) {
        set_gate64(v, STUBS + 16 * v, 3);
    }
    x86_paging_changed(cpu, false);
}

static void setup(void)
{
    machine_new();
}

static void teardown(void)
{
    machine_free();
}

/* ------------------------------------------------------------------ */
/* Real mode. */

START_TEST(test_real_alu)
{
    setup_real();
    LOAD(CODE16, real_alu);
    run_to_hlt(1000);
    X86Cpu *cpu = tm.cpu;
    CK_EQ(cpu->regs[R_AX] & 0xffff, 0xff0f);
    CK_EQ(cpu->regs[R_BX] & 0xffff, 6);
    CK_EQ(cpu->regs[R_CX] & 0xffff, 0xfffe);
    CK_EQ(cpu->regs[R_DX] & 0xffff, 0xcecf);
    CK_EQ(cpu->regs[R_SI] & 0xffff, 0);
    CK_EQ(cpu->regs[R_DI] & 0xffff, 4);
    CK_EQ(cpu->regs[R_BP] & 0xffffffff, 0x23456789);
    CK_EQ(r16(R16 + 0), 0x0896);
    CK_EQ(r16(R16 + 2), 0x0057);
    CK_EQ(r16(R16 + 4), 0x0087);
    CK_EQ(x86_get_eflags(cpu) & 0xffff, 0x0087);
    CK_EQ(cpu->rip, CODE16 + sizeof(real_alu));
}
END_TEST

START_TEST(test_real_muldiv_de)
{
    setup_real();
    LOAD(CODE16, real_muldiv);
    run_to_hlt(1000);
    static const Expect e[] = {
        { 0xea60, ALL }, { 0, ALL }, { 0xff00, ALL }, { 0x8e, ALL }, { 6, ALL },
        { 0xff72, ALL }, { 0xfffa, ALL }, { 0x0423, ALL },
    };
    check_slots(R16, 2, e, G_N_ELEMENTS(e));
    /* #DE through IVT[0]: IP of the DIV, CS, FLAGS pushed. */
    CK_EQ(r16(VEC), 0);
    CK_EQ(tm.cpu->regs[R_SP] & 0xffff, 0x9000 - 6);
    CK_EQ(r16(0x9000 - 6), REAL_MULDIV_divz);
    CK_EQ(r16(0x9000 - 4), 0);
}
END_TEST

START_TEST(test_real_stack)
{
    setup_real();
    LOAD(CODE16, real_stack);
    w16(R16 + 8, 0x1234);
    w16(R16 + 10, 0x0050);
    w8(0x502, 0x77);
    run_to_hlt(1000);
    X86Cpu *cpu = tm.cpu;
    CK_EQ(cpu->regs[R_AX] & 0xff00, 0x0a00);
    CK_EQ(cpu->regs[R_CX] & 0xffff, 0x0c0c);
    CK_EQ(cpu->regs[R_DX] & 0xffff, 0x1111);
    CK_EQ(cpu->regs[R_BP] & 0xffff, 0x0b0b);
    CK_EQ(cpu->regs[R_SI] & 0xffff, 0x1234);
    CK_EQ(cpu->regs[R_DI] & 0xffff, 0xabcd);
    CK_EQ(cpu->regs[R_SP] & 0xffff, 0x9000);
    CK_EQ(r16(R16 + 2), 0x5555);
    CK_EQ(r16(0x410), 0x7777);
    CK_EQ(r16(R16 + 4), 0x9000);
    CK_EQ(r8(R16 + 6), 0x55);      /* XLAT: [BX + AL] = [0x4003] */
    CK_EQ(r16(R16 + 12), 0x1234);  /* LES */
    CK_EQ(r8(R16 + 14), 0x77);     /* ES: XLAT */
    CK_EQ(cpu->segs[S_ES].selector, 0x50);
    CK_EQ(cpu->segs[S_ES].base, 0x500);
    CK_EQ(cpu->segs[S_DS].selector, 0);
}
END_TEST

START_TEST(test_real_ctl)
{
    setup_real();
    LOAD(CODE16, real_ctl);
    w16(4 * 0x50, REAL_CTL_h50);
    run_to_hlt(1000);
    X86Cpu *cpu = tm.cpu;
    CK_EQ(cpu->regs[R_AX] & 0xffff, 15);
    CK_EQ(cpu->regs[R_BX] & 0xffff, 0x99);
    CK_EQ(cpu->regs[R_DX] & 0xffff, 0);
    CK_EQ(cpu->regs[R_CX] & 0xffff, 7);
    CK_EQ(cpu->regs[R_SI] & 0xffff, 0);
    CK_EQ(cpu->regs[R_DI] & 0xffff, 0x5050);
    CK_EQ(cpu->regs[R_SP] & 0xffff, 0x9000);
    CK_EQ(r16(R16), 0x600d);
    CK_EQ(r16(R16 + 2), 0xfa);
    CK_EQ(r32(VEC), 0xffffffffu);
}
END_TEST

START_TEST(test_real_string)
{
    setup_real();
    LOAD(CODE16, real_string);
    put(0x4100, "abcdefgh", 8);
    run_to_hlt(1000);
    static const Expect e[] = {
        { 0, ALL }, { 3, ALL }, { 0x4105, ALL }, { 0x0461, ALL }, { 0x40ff, ALL },
        { 0x43ff, ALL }, { 0x40ff, ALL },
    };
    check_slots(R16, 2, e, G_N_ELEMENTS(e));
    ck_assert(memcmp(tm.mem + 0x4200, "abcdefgh", 8) == 0);
    ck_assert(memcmp(tm.mem + 0x4400, "abcdefgh", 8) == 0);
    for (unsigned i = 0; i < 8; i++) {
        CK_EQ(r8(0x4300 + i), 0x5a);
    }
    CK_EQ(r8(0x4308), 0);
    CK_EQ(x86_get_eflags(tm.cpu) & X86_DF, 0);
}
END_TEST

START_TEST(test_real_io)
{
    setup_real();
    LOAD(CODE16, real_io);
    put(0x4600, "xyz", 3);
    run_to_hlt(1000);
    static const PortLog want[] = {
        { 0x80, 1, 0x5a }, { 0x81, 2, 0x1234 }, { 0x81, 4, 0xdeadbeef },
        { 0x80, 1, 'x' }, { 0x80, 1, 'y' }, { 0x80, 1, 'z' },
    };
    CK_EQ(tm.nlog, G_N_ELEMENTS(want));
    for (unsigned i = 0; i < G_N_ELEMENTS(want); i++) {
        CK_EQ(tm.log[i].port, want[i].port);
        CK_EQ(tm.log[i].size, want[i].size);
        CK_EQ(tm.log[i].value, want[i].value);
    }
    CK_EQ(r16(R16), 0xbe40);
    CK_EQ(r16(R16 + 2), 0x0041);
    CK_EQ(r32(0x4500), 0x45444342);
}
END_TEST

START_TEST(test_real_to_pm)
{
    setup_real();
    LOAD(CODE16, real_to_pm);
    put(GDT, gdt, sizeof(gdt));
    w16(R16, 0x7f);
    w32(R16 + 2, 0xff000800);  /* 16-bit LGDT keeps 24 bits */
    w16(R16 + 8, 0x7f);
    w32(R16 + 10, GDT);
    run_to_hlt(1000);
    X86Cpu *cpu = tm.cpu;
    CK_EQ(r16(R16 + 0x10), 0x7f);
    CK_EQ(r32(R16 + 0x12), 0x000800);
    CK_EQ(r16(R16 + 0x18), 0x0010);    /* SMSW: CR0 after reset (ET) */
    CK_EQ(cpu->gdtr.base, GDT);
    CK_EQ(cpu->segs[S_CS].selector, 0x08);
    CK_EQ(x86_code_size(cpu), 4);
    CK_EQ(cpu->segs[S_SS].selector, 0x10);
    CK_EQ(cpu->regs[R_SP], STACK);
    CK_EQ(r32(0x4020), 0x900d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 32-bit protected mode. */

START_TEST(test_pm_alu)
{
    setup_pm32();
    LOAD(CODE, pm_alu);
    run_to_hlt(10000);
    static const Expect e[] = {
        [0] = { 0x55, FL }, [1] = { 0, ALL }, [2] = { 0x7fffffff, ALL }, [3] = { 0x814, FL },
        [4] = { 3, ALL }, [5] = { 1, ALL }, [6] = { 0xfffffffb, ALL }, [7] = { 0x91, FL },
        [8] = { 0x80000000, ALL }, [9] = { 0x895, FL }, [10] = { 0xfffff448, ALL },
        [11] = { 0, ALL }, [12] = { 0x801, 0x801 }, [13] = { 0, ALL }, [14] = { 2, ALL },
        [15] = { 0x10000000, ALL }, [16] = { 0, ALL }, [17] = { 0xfffffffd, ALL },
        [18] = { 0xffffffff, ALL }, [19] = { 2, ALL }, [20] = { 0x801, 0x801 },
        [21] = { 0xf8000000, ALL }, [22] = { 1, ALL }, [23] = { 0x34567812, ALL },
        [24] = { 0x81234567, ALL }, [25] = { 3, ALL }, [26] = { 0, ALL }, [27] = { 1, 1 },
        [28] = { 0xffff0, ALL }, [29] = { 0x10, ALL }, [30] = { 0x3456789a, ALL },
        [31] = { 0xf0123456, ALL }, [32] = { 0x44, 0x8c5 }, [33] = { 3, ALL },
        [34] = { 0xffff, ALL }, [35] = { 0x00f000f0, ALL }, [36] = { 0x4, 0x8c5 },
        [37] = { 0x80f000f0, ALL }, [38] = { 0x44, 0x8c5 }, [40] = { 0xf0f0f0f0, ALL },
        [41] = { 0x01000001, ALL }, [42] = { 9, ALL }, [43] = { 20, ALL }, [44] = { 23, ALL },
        [45] = { 20, ALL }, [46] = { 8, ALL }, [47] = { 4, ALL }, [48] = { 0x1234, ALL },
        [49] = { 0x40, 0x40 }, [50] = { 0x78563412, ALL }, [51] = { 0x1234ff80, ALL },
        [52] = { 0xffffff80, ALL }, [53] = { 0xffffffff, ALL }, [54] = { 2, ALL },
        [55] = { 1, ALL }, [56] = { 15, ALL }, [57] = { 10, ALL }, [58] = { 99, ALL },
        [59] = { 1, ALL }, [60] = { 8, ALL }, [61] = { 8, ALL }, [62] = { 0x44444444, ALL },
        [63] = { 0x33333333, ALL }, [64] = { 0x80, ALL }, [65] = { 0xffffff80, ALL },
        [66] = { 0xffff8001, ALL }, [67] = { 0x101c, ALL }, [68] = { 2, ALL },
        [69] = { 0x80000002, ALL }, [70] = { 0, ALL }, [71] = { 1, ALL }, [72] = { 0, ALL },
        [73] = { 0xd5, 0xd5 }, [74] = { 0x46, ALL }, [75] = { 0x00010100, ALL },
        [76] = { 0x00010100, ALL }, [77] = { 0x00010001, ALL }, [78] = { 0x00010001, ALL },
        [79] = { 0x11226644, ALL }, [80] = { 0x5555, ALL },
    };
    check_slots(R, 4, e, G_N_ELEMENTS(e));
    /* Flags after the last CMP 1, 2 (then MOVs and XCHG): CF SF PF. */
    CK_EQ(x86_get_eflags(tm.cpu) & FL, X86_CF | X86_SF | X86_PF | X86_AF);
    CK_EQ(r32(VEC), 0xffffffffu);
}
END_TEST

START_TEST(test_pm_ctl)
{
    setup_pm32();
    LOAD(CODE, pm_ctl);
    set_gate32(0x40, PM_CTL_h40, 0);
    run_to_hlt(10000);
    static const Expect e[] = {
        [0] = { 4, ALL }, [1] = { 2, ALL }, [2] = { 0xffffffff, ALL }, [3] = { 0xa, ALL },
        [4] = { 0xc, ALL }, [5] = { 0xb, ALL }, [6] = { X86_IF, X86_IF },
        [7] = { STACK, ALL }, [8] = { 3, ALL }, [9] = { 0x7ffec, ALL }, [10] = { 0x7fffc, ALL },
        [11] = { STACK, ALL }, [12] = { 0x80100, ALL }, [13] = { 5, ALL }, [14] = { 6, ALL },
        [15] = { 1, ALL }, [16] = { PM_CTL_ind2, ALL }, [17] = { 0xc5, ALL },
        [18] = { 0x1616, ALL }, [19] = { 0xfa, ALL }, [20] = { 0x4040, ALL },
        /* ENTER 8, 2: the frame it built (old EBP, the copied outer frame
         * pointer, the new frame pointer). */
        [21] = { 0x80100, ALL }, [22] = { 0xcafe, ALL }, [23] = { 0x7fffc, ALL },
        [26] = { 0xfa, ALL },   /* JMP m16:32 then CALL m16:32 */
    };
    check_slots(R, 4, e, G_N_ELEMENTS(e));
    /* INTO with OF = 1: #OF as a trap (EIP after INTO). */
    CK_EQ(r32(VEC), 4);
    CK_EQ(tm.cpu->regs[R_SP], STACK - 12);
    CK_EQ(r32(STACK - 12), PM_CTL_into + 1);
    CK_EQ(r32(STACK - 8), 0x08);
}
END_TEST

static void fill_pattern(uint64_t a, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++) {
        w8(a + i, (uint8_t)(seed + i));
    }
}

START_TEST(test_pm_string)
{
    setup_pm32();
    LOAD(CODE, pm_string);
    fill_pattern(0x100f00, 0x200, 0x10);
    w16(0x100ffa, 0x0bfa);
    for (uint32_t i = 0; i < 20000; i++) {
        w32(0x300000 + 4 * i, i * 2654435761u);
    }
    fill_pattern(0x600000, 32, 0x30);
    w32(0x5000, 0xfeedface);
    tm.cpu->segs[S_GS].base = 0x1000;
    uint8_t src[0x200];
    memcpy(src, tm.mem + 0x100f00, sizeof(src));
    run_to_hlt(100000);
    static const Expect e[] = {
        [0] = { 0, ALL }, [1] = { 0x313880, ALL }, [2] = { 0x413880, ALL },
        [3] = { 0x100fdc, ALL }, [4] = { 0x700fdc, ALL }, [5] = { 0, ALL }, [6] = { 0x40, 0x40 },
        [7] = { 4, ALL }, [8] = { 94, ALL }, [9] = { 0x100ffc, ALL }, [10] = { 0xfeedface, ALL },
        [11] = { 0x12340000, ALL }, [12] = { 0x2004, ALL }, [13] = { 0x101106, ALL },
    };
    check_slots(R, 4, e, G_N_ELEMENTS(e));
    /* REP MOVSB across page boundaries (source and destination). */
    for (unsigned i = 0; i < 32; i++) {
        uint8_t want = (i >= 12 && i < 16) ? 0 : src[0xf0 + i];
        ck_assert_msg(r8(0x201ff8 + i) == want, "movsb byte %u", i);
    }
    ck_assert(memcmp(tm.mem + 0x400000, tm.mem + 0x300000, 80000) == 0);
    CK_EQ(r32(0x400000 + 80000), 0);
    for (unsigned i = 0; i < 10000; i++) {
        ck_assert(r8(0x500000 + i) == 0xab);
    }
    CK_EQ(r8(0x500000 + 10000), 0);
    for (unsigned i = 0; i <= 16; i++) {
        CK_EQ(r8(0x600000 + i), 0x30);   /* overlapping forward copy replicates */
    }
    CK_EQ(r8(0x600000 + 17), 0x30 + 17);
    ck_assert(memcmp(tm.mem + 0x700fe0, src + 0xe0, 32) == 0);
    CK_EQ(r32(0x700fdc), 0);
    CK_EQ(r32(0x2100), r32(0x2000));
    CK_EQ(r32(0x100ff0), 0x11111111);
    /* "66 F3 AB" (REP STOSW as GNU as encodes it) stores words. */
    CK_EQ(r16(0x101100), 0x1234);
    CK_EQ(r16(0x101104), 0x1234);
    CK_EQ(r16(0x101106), 0);
    CK_EQ(r32(VEC), 0xffffffffu);
}
END_TEST

START_TEST(test_pm_sys)
{
    setup_pm32();
    LOAD(CODE, pm_sys);
    X86Cpu *cpu = tm.cpu;
    cpu->tsc_offset = 5ull << 32;
    cpu->sysenter_cs = 0x08;
    cpu->sysenter_esp = 0x70000;
    cpu->sysenter_eip = PM_SYS_sysenter;
    w16(0x4000, 0x3ff);
    w32(0x4002, 0x12345678);
    w16(0x4020, 0x7ff);
    w32(0x4022, IDT);
    run_to_hlt(10000);
    static const Expect e[] = {
        [0] = { 5, ALL }, [1] = { 0x31, ALL }, [2] = { 0x12345000, ALL }, [3] = { 0x48, ALL },
        [4] = { 0x50, ALL }, [5] = { 0x00c09300, ALL }, [6] = { 0xffffffff, ALL },
        [7] = { 0, 0x40 }, [8] = { 0, ALL }, [9] = { 0x40, 0x40 }, [10] = { 0, 0x40 },
        [11] = { 0x40, 0x40 }, [12] = { 0x31, ALL }, [13] = { 0x39, ALL }, [14] = { 0x31, ALL },
        [15] = { 0x400, ALL }, [16] = { 0x70000, ALL }, [17] = { 0x7f000, ALL },
        [18] = { 0x1b, ALL },
    };
    check_slots(R, 4, e, G_N_ELEMENTS(e));
    CK_EQ(r16(0x4010), 0x3ff);
    CK_EQ(r32(0x4012), 0x345678);          /* 16-bit LIDT: 24-bit base */
    CK_EQ(r8(GDT + 0x48 + 5), 0x8b);       /* LTR marked the TSS busy */
    CK_EQ(cpu->tr.selector, 0x48);
    CK_EQ(cpu->ldtr.base, LDT);
    /* CLI at CPL 3 with IOPL 0: #GP(0) on the TSS's ring-0 stack. */
    CK_EQ(r32(VEC), 13);
    CK_EQ(cpu->regs[R_SP], STACK0 - 24);
    CK_EQ(r32(STACK0 - 24), 0);
    CK_EQ(r32(STACK0 - 20), PM_SYS_cli);
    CK_EQ(r32(STACK0 - 16), 0x1b);
    CK_EQ(r32(STACK0 - 8), 0x7f000);
    CK_EQ(r32(STACK0 - 4), 0x23);
    CK_EQ(cpu->cpl, 0);
}
END_TEST

START_TEST(test_pm_exceptions)
{
    X86Cpu *cpu;
    /* Self-modifying code, a LOCKed memory add, then an undefined opcode. */
    setup_pm32();
    cpu = tm.cpu;
    LOAD(CODE, pm_exc);
    w32(R + 4, 1);
    run_to_hlt(1000);
    CK_EQ(r32(R), 0x42);
    CK_EQ(r32(R + 4), 0x80000000);
    CK_EQ(r32(VEC), X86_EXC_UD);
    CK_EQ(r32(cpu->regs[R_SP]), PM_EXC_ud);

    /* REP STOSB over the next instruction (already decoded in the block). */
    machine_free();
    machine_new();
    setup_pm32();
    cpu = tm.cpu;
    LOAD(CODE, pm_smc);
    run_to_hlt(1000);
    CK_EQ(r32(R), 0x90);

    static const struct {
        const uint8_t *code;
        size_t len;
        uint64_t cr0_extra;
        int vector;
        uint32_t eip;
    } cases[] = {
        { pm_lock, sizeof(pm_lock), 0, X86_EXC_UD, PM_LOCK_lock },
        { pm_ud2, sizeof(pm_ud2), 0, X86_EXC_UD, PM_UD2_ud2 },
        { pm_fpu, sizeof(pm_fpu), X86_CR0_TS, X86_EXC_NM, PM_FPU_fpu },
        { pm_fpu, sizeof(pm_fpu), 0, X86_EXC_UD, PM_FPU_fpu },
        { pm_de, sizeof(pm_de), 0, X86_EXC_DE, PM_DE_de },
        { pm_int3, sizeof(pm_int3), 0, X86_EXC_BP, PM_INT3_i3 + 1 },  /* a trap */
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        machine_free();
        machine_new();
        setup_pm32();
        cpu = tm.cpu;
        cpu->cr0 |= cases[i].cr0_extra;
        put(CODE, cases[i].code, cases[i].len);
        run_to_hlt(1000);
        ck_assert_msg(r32(VEC) == (uint32_t)cases[i].vector, "case %u: vector %d", i,
                      (int)r32(VEC));
        CK_EQ(cpu->regs[R_SP], STACK - 12);
        CK_EQ(r32(STACK - 12), cases[i].eip);
    }
}
END_TEST

START_TEST(test_pm_cpl3)
{
    setup_pm32();
    X86Cpu *cpu = tm.cpu;
    LOAD(CODE, pm_cpl3);
    cpu->segs[S_CS] = flat(0x5b, 0xc0fb);
    for (int s = 0; s < 6; s++) {
        if (s != S_CS) {
            cpu->segs[s] = flat(0x63, 0xc0f3);
        }
    }
    cpu->cpl = 3;
    run_to_hlt(1000);
    /* POPFD at CPL 3, IOPL 0: IF and IOPL unchanged, CF loaded. */
    CK_EQ(r32(R) & (X86_IF | X86_IOPL | X86_CF), X86_CF);
    CK_EQ(r32(VEC), X86_EXC_GP);
    CK_EQ(cpu->cpl, 0);
    CK_EQ(cpu->regs[R_SP], STACK0 - 24);
    CK_EQ(r32(STACK0 - 20), PM_CPL3_rdmsr);
    CK_EQ(r32(STACK0 - 16), 0x5b);
    CK_EQ(r32(STACK0 - 8), STACK);
    CK_EQ(r32(STACK0 - 4), 0x63);
}
END_TEST

/* REP is interruptible: one quantum step runs a bounded chunk and leaves
 * EIP at the instruction; a pending interrupt is taken in between. */
START_TEST(test_pm_rep_interruptible)
{
    static const uint8_t rep_movsb[] = { 0xf3, 0xa4, 0xf4 };  /* rep movsb; hlt */
    setup_pm32();
    X86Cpu *cpu = tm.cpu;
    LOAD(CODE, rep_movsb);
    fill_pattern(0x100000, 10000, 1);
    cpu->regs[R_SI] = 0x100000;
    cpu->regs[R_DI] = 0x180000;
    cpu->regs[R_CX] = 10000;
    X86Exit x = x86_cpu_run(cpu, 1);
    CK_EQ(x, X86_EXIT_QUANTUM);
    CK_EQ(cpu->rip, CODE);
    ck_assert(cpu->regs[R_CX] > 0 && cpu->regs[R_CX] < 10000);
    CK_EQ(cpu->regs[R_SI] - 0x100000, 10000 - cpu->regs[R_CX]);
    /* Now with interrupts enabled: the machine raises vector 0x41 after
     * the first chunk; its handler stub halts. */
    tm.irq_calls = 0;
    tm.irq_vector = 0x41;
    cpu->eflags |= X86_IF;
    uint64_t cx0 = cpu->regs[R_CX];
    run_to_hlt(1000);
    CK_EQ(r32(VEC), 0x41);
    ck_assert(cpu->regs[R_CX] < cx0 && cpu->regs[R_CX] > 0);
    CK_EQ(r32(cpu->regs[R_SP]), CODE);  /* return to the REP instruction */
    /* Resume: the copy completes. */
    cpu->regs[R_SP] += 12;
    cpu->rip = CODE;
    cpu->eflags &= ~X86_IF;
    run_to_hlt(1000);
    CK_EQ(cpu->regs[R_CX], 0);
    ck_assert(memcmp(tm.mem + 0x180000, tm.mem + 0x100000, 10000) == 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 64-bit mode. */

START_TEST(test_lm_alu)
{
    setup_lm64();
    LOAD(CODE, lm_alu);
    fill_pattern(0x100f00, 0x200, 0x10);
    run_to_hlt(10000);
    static const Expect e[] = {
        [0] = { 1, ALL }, [1] = { 5, ALL }, [2] = { 0x1122334455667799ull, ALL },
        [3] = { 0x12, ALL }, [4] = { 0x34, ALL }, [5] = { 0xbbbbbbbb, ALL },
        [6] = { 0xfffffffffffffffeull, ALL }, [7] = { 0xffffffff80000000ull, ALL },
        [8] = { ALL, ALL }, [9] = { 0, ALL }, [10] = { 1, ALL },
        [11] = { 0x8000000000000000ull, ALL }, [12] = { 0x8000000000000000ull, ALL },
        [13] = { 0xfffffffffffffff1ull, ALL }, [14] = { LM_ALU_here, ALL },
        [15] = { 0x0123456789abcdefull, ALL }, [16] = { 0x7fffffff, ALL },
        [17] = { 0xfffffffffffffffeull, ALL }, [18] = { 2, ALL }, [19] = { 0x5ab, ALL },
        [20] = { 1, ALL }, [21] = { 3, ALL }, [22] = { 0, ALL }, [23] = { 1, ALL },
        [24] = { 7, ALL }, [25] = { 8, ALL }, [26] = { 11, ALL }, [27] = { 1, ALL },
        [28] = { 0x1032547698badcfeull, ALL }, [29] = { ALL, ALL }, [30] = { 0xffffffff, ALL },
    };
    check_slots(R, 8, e, G_N_ELEMENTS(e));
    ck_assert(memcmp(tm.mem + 0x201ff0, tm.mem + 0x100ff0, 32) == 0);
    for (unsigned i = 0; i < 3; i++) {
        CK_EQ(r64(0x500000 + 8 * i), 0x0102030405060708ull);
    }
    CK_EQ(r64(0x500000 + 24), 0);
    /* Flags of the last SAR (a shift by 0 keeps them): SF, PF. */
    CK_EQ(x86_get_eflags(tm.cpu) & 0x8c5, X86_SF | X86_PF);
    CK_EQ(r32(VEC), 0xffffffffu);
}
END_TEST

START_TEST(test_lm_sys)
{
    setup_lm64();
    X86Cpu *cpu = tm.cpu;
    LOAD(CODE, lm_sys);
    cpu->segs[S_GS].base = 0x1111;
    cpu->kernel_gs_base = 0x2222;
    cpu->lstar = LM_SYS_syscall;
    cpu->star = (0x30ull << 48) | (0x20ull << 32);
    cpu->sfmask = X86_IF;
    set_gate64(0x40, LM_SYS_h40, 0);
    w64(0x400000, 0x4444);
    w64(0x600000, 0x6666);
    run_to_hlt(1000);
    CK_EQ(r64(R + 24), 0x4444);
    CK_EQ(r64(R + 32), 0x6666);    /* INVLPG dropped the stale translation */
    CK_EQ(cpu->segs[S_GS].base, 0x2222);
    CK_EQ(cpu->kernel_gs_base, 0x3333);    /* WRMSR IA32_KERNEL_GS_BASE */
    CK_EQ(r64(R + 40), 0x4040);            /* INT 0x40, IRETQ */
    CK_EQ(r64(R) & 0xfff, 0x501);
    CK_EQ(r64(R + 8), LM_SYS_aftersys);
    /* SYSRETQ went to CPL 3 (CS 0x43, SS 0x3b); HLT there: #GP(0). */
    CK_EQ(r32(VEC), X86_EXC_GP);
    CK_EQ(cpu->regs[R_AX], 0x5c);
    CK_EQ(cpu->regs[R_SP], STACK0 - 48);
    CK_EQ(r64(STACK0 - 48), 0);
    CK_EQ(r64(STACK0 - 40), LM_SYS_ret3);
    CK_EQ(r64(STACK0 - 32), 0x43);
    CK_EQ(r64(STACK0 - 24) & 0xffff, 0x2);
    CK_EQ(r64(STACK0 - 16), STACK);
    CK_EQ(r64(STACK0 - 8), 0x3b);
}
END_TEST

START_TEST(test_lm_exceptions)
{
    setup_lm64();
    LOAD(CODE, lm_de);
    run_to_hlt(1000);
    CK_EQ(r32(VEC), X86_EXC_DE);
    CK_EQ(tm.cpu->regs[R_SP], STACK - 40);
    CK_EQ(r64(STACK - 40), LM_DE_de);
    CK_EQ(r64(STACK - 32), 0x20);

    machine_free();
    machine_new();
    setup_lm64();
    LOAD(CODE, lm_ud);
    run_to_hlt(1000);
    CK_EQ(r32(VEC), X86_EXC_UD);
    CK_EQ(r64(STACK - 40), LM_UD_ud);
}
END_TEST

/* Throughput of the ALU loop (reported, not asserted: hosts differ). */
START_TEST(test_lm_perf)
{
    setup_lm64();
    X86Cpu *cpu = tm.cpu;
    LOAD(CODE, lm_perf);
    const uint64_t iters = 20000000;
    cpu->regs[R_CX] = iters;
    cpu->regs[R_BX] = 12345;
    uint64_t t0 = (uint64_t)g_get_monotonic_time();
    run_to_hlt(iters * 6 + 100);
    uint64_t us = (uint64_t)g_get_monotonic_time() - t0;
    CK_EQ(cpu->regs[R_SI], iters);
    fprintf(stderr, "x86 ALU loop: %" G_GUINT64_FORMAT " instructions in %" G_GUINT64_FORMAT
            " us: %.1f M instructions/s\n", cpu->icount, us,
            us ? (double)cpu->icount / (double)us : 0.0);
}
END_TEST

static Suite *x86_insn_suite(void)
{
    Suite *s = suite_create("x86_insn");
    TCase *tc = tcase_create("real");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_real_alu);
    tcase_add_test(tc, test_real_muldiv_de);
    tcase_add_test(tc, test_real_stack);
    tcase_add_test(tc, test_real_ctl);
    tcase_add_test(tc, test_real_string);
    tcase_add_test(tc, test_real_io);
    tcase_add_test(tc, test_real_to_pm);
    suite_add_tcase(s, tc);

    tc = tcase_create("pm32");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_pm_alu);
    tcase_add_test(tc, test_pm_ctl);
    tcase_add_test(tc, test_pm_string);
    tcase_add_test(tc, test_pm_sys);
    tcase_add_test(tc, test_pm_exceptions);
    tcase_add_test(tc, test_pm_cpl3);
    tcase_add_test(tc, test_pm_rep_interruptible);
    suite_add_tcase(s, tc);

    tc = tcase_create("lm64");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_lm_alu);
    tcase_add_test(tc, test_lm_sys);
    tcase_add_test(tc, test_lm_exceptions);
    suite_add_tcase(s, tc);

    tc = tcase_create("perf");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_lm_perf);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    Suite *s = x86_insn_suite();
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
