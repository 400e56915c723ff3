/*
 * semihost: Arm semihosting (IHI 0094) through `hlt #0xf000`: SYS_WRITE0
 * writes a NUL-terminated string, SYS_EXIT ends the run with the status
 * in the parameter block's subcode (the harness expects 3).
 */
#include "lib.h"

int main(uint64_t dtb)
{
    (void)dtb;
    print("semihost: console\n");
    uint64_t r = semihosting_call(SH_SYS_WRITE0, (uint64_t)(uintptr_t)"semihost: SYS_WRITE0\n");
    (void)r;   /* SYS_WRITE0 returns nothing meaningful (IHI 0094) */
    print("semihost: exiting with 3\n");
    exit_status(3);
}
