/*
 * System Management Mode, the CPU side (x86_smm.c). Private to targets/x86.
 *
 * The chipset side (SMRAM control, the APM port, APIC SMI delivery) is the
 * machine's: it raises SMIs with x86_cpu_raise_smi() and learns of entry
 * and exit through X86MachineOps.smm_changed.
 */
#ifndef MMUSIM_TARGETS_X86_SMM_H
#define MMUSIM_TARGETS_X86_SMM_H

#include "targets/x86/x86_cpu.h"
#include "targets/x86/x86_decode.h"

/* SMBASE after RESET (AMD64 APM Vol. 2 10.2.2; SDM Vol. 3C 34.4). */
#define X86_SMBASE_DEFAULT 0x30000u
/* SMM revision identifier written at SMBASE + 0xFEFC: the AMD64 save-state
 * layout (level 0x64), bit 17 = SMBASE relocation supported, bit 16 = I/O
 * instruction restart (not supported: clear). */
#define X86_SMM_REVISION 0x00020064u

/* Enter SMM now (the run loop calls it at a block boundary, SMI taken). */
void x86_smm_enter(X86Cpu *cpu);
/* RESET/INIT: leave SMM without restoring anything (tells the machine). */
void x86_smm_leave_on_reset(X86Cpu *cpu);
/* RSM (0F AA): #UD outside SMM. Registered in x86_insn_table.c. */
int x86_smm_rsm(X86Cpu *cpu, const X86Insn *in);

#endif
