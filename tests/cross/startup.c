/* startup.c — a minimal Cortex-M4 start for QEMU's mps2-an386 (and, built without an FPU,
 * Cortex-M3 for mps2-an385): vector table, FPU on (when the build uses one),
 * bss zeroed, main() run, and ARM semihosting for output and exit. Nothing else: the
 * deployed model needs no C library. */
extern unsigned int __bss_start, __bss_end, __stack_top;
int main(void);
void reset_handler(void);
void sh_write(const char *s);
void sh_exit(int ok);

/* ARM semihosting call: operation in r0, argument in r1, trap with bkpt 0xab. */
static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void sh_write(const char *s)
{
    semihost(0x04, s); /* SYS_WRITE0 */
}

void sh_exit(int ok)
{
    /* SYS_EXIT with ADP_Stopped_ApplicationExit (0x20026) or RunTimeErrorUnknown (0x20023) */
    semihost(0x18, (const void *)(ok ? 0x20026 : 0x20023));
    for (;;) {
    }
}

static void fault_handler(void)
{
    sh_write("FAULT\n");
    sh_exit(0);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void)) & __stack_top,
    reset_handler,
    fault_handler,
    fault_handler,
    fault_handler,
    fault_handler,
    fault_handler,
};

void reset_handler(void)
{
    for (volatile unsigned int *p = &__bss_start; p < &__bss_end; p++) /* not memset */
        *p = 0;
#ifdef __ARM_FP /* a core with an FPU, code that uses it (not the Cortex-M3 build) */
    *(volatile unsigned int *)0xE000ED88 |= 0xFu << 20; /* CPACR: CP10, CP11 full access */
    __asm__ volatile("dsb\n\tisb");
#endif
    sh_exit(main() == 0);
}
