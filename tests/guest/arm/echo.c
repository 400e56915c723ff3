/*
 * echo: console input through the PL011 (ARM DDI 0183: UARTFR.RXFE set
 * while the receive FIFO is empty, UARTDR pops a byte). Reads one line
 * from the host's stdin, echoes it back, and powers off.
 */
#include "lib.h"

#define UART_DR 0x000
#define UART_FR 0x018
#define FR_RXFE (1u << 4)

int main(uint64_t dtb)
{
    (void)dtb;
    char line[80];
    unsigned n = 0;
    print("type a line:\n");
    for (;;) {
        /* Polling: the machine feeds host input between scheduling quanta. */
        while (mmio_read32(UART_BASE + UART_FR) & FR_RXFE) {
        }
        char c = (char)(mmio_read32(UART_BASE + UART_DR) & 0xff);
        if (c == '\n' || n + 1 == sizeof(line)) {
            break;
        }
        line[n++] = c;
    }
    line[n] = 0;
    print("echo: %s\n", line);
    psci_system_off();
    return 0;
}
