/*
 * smp (run with --smp 4): PSCI CPU_ON / AFFINITY_INFO / CPU_OFF (DEN 0022D
 * 5.5-5.7) and exclusives shared between CPUs (DDI 0487 B2.9: a store by
 * another CPU to the marked address clears the exclusive monitor, so the
 * STLXR of a preempted LDAXR/STLXR loop fails and retries).
 *
 * Every CPU prints its MPIDR in turn (a turn variable written with
 * store-release, read with load-acquire), then all four add 1 to a shared
 * counter 10,000 times each with LDAXR/STLXR: the machine switches CPUs
 * every 10,000 instructions, in the middle of loops, so a broken monitor
 * loses increments. Runs with the MMU off: the exclusives are on Device
 * memory, which QEMU and this machine support (real cores may not, see
 * B2.9.? "Load-Exclusive and Store-Exclusive instruction usage
 * restrictions").
 */
#include "lib.h"

#define NCPUS 4
#define ADDS 10000u

static volatile uint32_t turn;
static volatile uint32_t go;
static volatile uint32_t done;
static volatile uint32_t counter;
static volatile uint32_t leave;

static void add_many(void)
{
    for (unsigned i = 0; i < ADDS; i++) {
        atomic_add32(&counter, 1);
    }
}

static void secondary(uint64_t ctx)
{
    unsigned me = cpu_index();
    wait_eq32(&turn, me, "my turn");
    print("CPU %u: MPIDR 0x%lx, context_id 0x%lx, EL%lu\n", me, read_sysreg(mpidr_el1), ctx,
          read_sysreg(currentel) >> 2);
    check_eq(ctx, 0x10 + me, 0x20, "context_id in x0");
    store_release32(&turn, me + 1);

    wait_eq32(&go, 1, "go");
    add_many();
    atomic_add32(&done, 1);
    wait_eq32(&leave, 1, "leave");
    /* Returning makes secondary_entry call PSCI CPU_OFF. */
}

static void idle_cpu(uint64_t arg)
{
    (void)arg;
    park();
}

int main(uint64_t dtb)
{
    (void)dtb;
    print("smp: CPU 0 MPIDR 0x%lx\n", read_sysreg(mpidr_el1));

    for (uint64_t cpu = 1; cpu < NCPUS; cpu++) {
        int64_t r = psci_cpu_on(cpu, secondary, 0x10 + cpu);
        print("CPU_ON %lu: %ld\n", cpu, r);
        check_eq(r, PSCI_SUCCESS, 0x21, "CPU_ON");
        if (cpu == 1) {
            /* DEN 0022D 5.6.2: ALREADY_ON for a core that is on (ON_PENDING,
             * -5, if it has not started yet: this machine turns it on at
             * once). */
            r = psci_cpu_on(1, secondary, 0x11);
            print("CPU_ON 1 again: %ld (ALREADY_ON)\n", r);
            check_eq(r, PSCI_ALREADY_ON, 0x22, "second CPU_ON");
        }
    }
    /* An MPIDR no CPU has: INVALID_PARAMETERS. */
    int64_t r = psci_cpu_on(7, secondary, 0);
    print("CPU_ON 7: %ld (INVALID_PARAMETERS)\n", r);
    check_eq(r, PSCI_INVALID_PARAMETERS, 0x23, "CPU_ON of a CPU that does not exist");

    store_release32(&turn, 1);
    wait_eq32(&turn, NCPUS, "every CPU's turn");

    print("AFFINITY_INFO:");
    for (uint64_t cpu = 0; cpu < NCPUS; cpu++) {
        r = psci_affinity_info(cpu);
        print(" %ld", r);
        check_eq(r, PSCI_AFF_ON, 0x24, "AFFINITY_INFO of a started CPU");
    }
    print(" (ON)\n");

    store_release32(&go, 1);
    add_many();
    atomic_add32(&done, 1);
    wait_eq32(&done, NCPUS, "every CPU's additions");
    print("counter: %u (want %u)\n", counter, NCPUS * ADDS);
    check_eq(counter, NCPUS * ADDS, 0x25, "shared counter");

    store_release32(&leave, 1);
    for (uint64_t cpu = 1; cpu < NCPUS; cpu++) {
        /* The CPU reaches CPU_OFF in its next time slice. */
        for (unsigned i = 0; (r = psci_affinity_info(cpu)) != PSCI_AFF_OFF; i++) {
            check(i < 1000000, 0x26, "secondary CPU never went off");
        }
    }
    print("AFFINITY_INFO after CPU_OFF:");
    for (uint64_t cpu = 0; cpu < NCPUS; cpu++) {
        print(" %ld", psci_affinity_info(cpu));
    }
    print("\n");
    check_eq(psci_affinity_info(1), PSCI_AFF_OFF, 0x27, "AFFINITY_INFO after CPU_OFF");
    /* A CPU that is off can be started again. */
    r = psci_cpu_on(3, idle_cpu, 0);
    check_eq(r, PSCI_SUCCESS, 0x28, "CPU_ON after CPU_OFF");
    /* ON, or ON_PENDING (2) while the core has not started yet (DEN 0022D
     * 5.7.2). */
    r = psci_affinity_info(3);
    check(r == PSCI_AFF_ON || r == 2, 0x29, "AFFINITY_INFO after CPU_ON again");
    print("smp done\n");
    return 0;
}
