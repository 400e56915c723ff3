/*
 * /init for the optional Linux boot test (tests/linux_boot_arm64.sh): a
 * Linux arm64 user program with no C library, raw system calls only
 * (arch/arm64 numbers: write 64, reboot 142). It proves the kernel reached
 * user space (EL0) on mmusim: it prints one line and powers the machine
 * off, which the kernel does through PSCI SYSTEM_OFF.
 */
static long syscall4(long n, long a, long b, long c, long d)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
}

void _start(void);

void _start(void)
{
    static const char msg[] = "Hello from Linux user space on mmusim\n";
    syscall4(64, 1, (long)msg, sizeof(msg) - 1, 0);
    /* reboot(LINUX_REBOOT_MAGIC1, MAGIC2, LINUX_REBOOT_CMD_POWER_OFF) */
    syscall4(142, 0xfee1dead, 672274793, 0x4321fedc, 0);
    for (;;) {
    }
}
