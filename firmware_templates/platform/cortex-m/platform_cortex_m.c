/* Bare-metal Cortex-M platform (Armv7-M / Armv8-M mainline): vector table and reset, the
 * cycle counter, HardFault report, the guarded and painted stack, and the few newlib hooks the
 * C library needs.
 * The serial port and clocks are the board's (board.h); addresses and clocks come from
 * tinyship_config.h (generated from boards/<id>.yaml). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "app.h"
#include "board.h"
#include "platform.h"
#include "tinyship_config.h"

#define REG(addr) (*(volatile uint32_t *)(addr))

/* System control space */
#define SYST_CSR REG(0xE000E010)
#define SYST_RVR REG(0xE000E014)
#define SYST_CVR REG(0xE000E018)
#define SCB_CPACR REG(0xE000ED88)
#define SCB_CFSR REG(0xE000ED28)
#define DEMCR REG(0xE000EDFC)
#define DWT_CTRL REG(0xE0001000)
#define DWT_CYCCNT REG(0xE0001004)

#define MPU_TYPE REG(0xE000ED90)
#define MPU_CTRL REG(0xE000ED94)
#define MPU_RNR REG(0xE000ED98)
#define MPU_RBAR REG(0xE000ED9C)
#define MPU_RASR REG(0xE000EDA0)

#define STACK_PAINT 0xA5A5A5A5u
/* The lowest bytes of the application stack no push may reach: on Armv8-M mainline PSPLIM
 * stops any lower stack pointer (UsageFault STKOF), on Armv7-M an MPU region without access
 * catches the first store into it (MemManage; a frame over 256 bytes could step over it: the
 * kernels' are far smaller); either way the HardFault handler reports it from its own stack. */
#define STACK_GUARD 256u
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
#define STACK_LIMIT_REGISTER 1
#else
#define STACK_LIMIT_REGISTER 0
#endif

extern uint32_t __data_start, __data_end, __data_load, __bss_start, __bss_end;
extern uint32_t __stack_bottom, __stack_top, __handler_stack_top, __heap_start, __heap_end;
extern void __libc_init_array(void);

/* ---- serial: the board's UART, polled ------------------------------------------------------ */

int plat_getc(void)
{
    int c;
    while ((c = board_try_getc()) < 0) {
    }
    return c;
}

void plat_write(const char *s, size_t n)
{
    while (n) {
        if (board_try_putc(*s)) {
            s++;
            n--;
        }
    }
}

/* ---- time ------------------------------------------------------------------------------
 * DWT CYCCNT counts core cycles where it runs (silicon); QEMU does not model it (it reads 0),
 * so there SysTick on the processor clock is the timer. Both are extended to 64 bits by the
 * SysTick interrupt, which fires every 2^24 processor clocks (well within a CYCCNT wrap). */

static volatile uint32_t systick_wraps;
static int dwt_runs;
#if TS_USE_DWT
static volatile uint32_t dwt_high, dwt_last;
#endif

void SysTick_Handler(void)
{
    systick_wraps++;
#if TS_USE_DWT
    uint32_t now = DWT_CYCCNT;
    dwt_high += now < dwt_last;
    dwt_last = now;
#endif
}

static uint64_t ticks(void)
{
    uint32_t wraps, value;
    do {
        wraps = systick_wraps;
        value = SYST_CVR;
    } while (wraps != systick_wraps);
    return ((uint64_t)wraps << 24) + (0xFFFFFFu - value);
}

#if TS_USE_DWT
static uint64_t dwt_cycles(void)
{
    uint32_t wraps, high, now;
    do {
        wraps = systick_wraps;
        now = DWT_CYCCNT;
        high = dwt_high + (now < dwt_last);
    } while (wraps != systick_wraps);
    return ((uint64_t)high << 32) | now;
}
#endif

/* Under `-icount shift=0` QEMU runs one instruction per ns of virtual time, so there "cycles"
 * are instructions: ns = ticks * 1e9 / SysTick rate (split so that it cannot overflow). */
uint64_t plat_cycles(void)
{
#if TS_USE_DWT
    if (dwt_runs) {
        return dwt_cycles();
    }
#endif
    uint64_t t = ticks();
    return t / TS_SYSTICK_HZ * 1000000000u + t % TS_SYSTICK_HZ * 1000000000u / TS_SYSTICK_HZ;
}

uint64_t plat_cycle_hz(void) { return dwt_runs ? board_core_hz() : 1000000000u; }
const char *plat_timer(void) { return dwt_runs ? "dwt" : "systick"; }
int plat_emulated(void) { return !dwt_runs; }

static void timer_start(void)
{
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 7;   /* processor clock, interrupt, enable */
#if TS_USE_DWT
    DEMCR |= 1u << 24;   /* TRCENA */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;      /* CYCCNTENA */
    __asm volatile("nop\nnop\nnop\nnop");
    dwt_runs = DWT_CYCCNT != 0;
#endif
}

/* ---- stack high-water mark ------------------------------------------------------------- */

static uint32_t *stack_floor(void) { return (uint32_t *)((uintptr_t)&__stack_bottom + STACK_GUARD); }

/* The usable stack: above the guard. A high-water mark equal to it means the run overflowed
 * or came within a word of it (the host fails such a run). */
size_t plat_stack_size(void) { return (size_t)((char *)&__stack_top - (char *)stack_floor()); }

size_t plat_stack_used(void)
{
    const uint32_t *p = stack_floor();
    while (p < &__stack_top && *p == STACK_PAINT) {
        p++;
    }
    return (size_t)((const char *)&__stack_top - (const char *)p);
}

/* ---- faults ---------------------------------------------------------------------------- */

static void put_hex32(uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int shift = 28; shift >= 0; shift -= 4) {
        plat_write(&digits[(v >> shift) & 15], 1);
    }
}

/* A plain loop, not strlen: the C library's strlen may use DSP instructions, and the fault
 * being reported may be that the core lacks them. */
static void put_str(const char *s)
{
    while (*s) {
        plat_write(s++, 1);
    }
}

/* CFSR: a push of the exception frame failed (MemManage MSTKERR, BusFault STKERR), or a stack
 * pointer went below its limit (UsageFault STKOF, Armv8-M) */
#define CFSR_STACK_ERRORS ((1u << 4) | (1u << 12) | (1u << 20))

/** Called with the exception frame: r0 r1 r2 r3 r12 lr pc xpsr. Prints one line and halts.
 * A stack error, or a frame outside the stacks, is an overflow: the frame is not there to read. */
void hardfault_report(const uint32_t *frame)
{
    const uintptr_t at = (uintptr_t)frame, end = at + 8 * sizeof *frame;
    const int on_stack = at >= (uintptr_t)stack_floor() && end <= (uintptr_t)&__stack_top;
    const int on_handler_stack = at >= (uintptr_t)&__stack_top && end <= (uintptr_t)&__handler_stack_top;
    if ((SCB_CFSR & CFSR_STACK_ERRORS) || (!on_stack && !on_handler_stack)) {
        put_str("e-[HARDFAULT stack overflow: sp=0x");
        put_hex32((uint32_t)(uintptr_t)frame);
        put_str(" at the guard of a stack of 0x");
        put_hex32((uint32_t)plat_stack_size());
        put_str(" bytes cfsr=0x");
        put_hex32(SCB_CFSR);
        put_str("]\r\n");
        for (;;) {
            __asm volatile("wfi");
        }
    }
    put_str("e-[HARDFAULT pc=0x");
    put_hex32(frame[6]);
    put_str(" lr=0x");
    put_hex32(frame[5]);
    put_str(" cfsr=0x");
    put_hex32(SCB_CFSR);
    put_str("]\r\n");
    for (;;) {
        __asm volatile("wfi");
    }
}

__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "b hardfault_report\n");
}

void Default_Handler(void)
{
    put_str("e-[HARDFAULT unexpected exception]\r\n");
    for (;;) {
        __asm volatile("wfi");
    }
}

/* ---- reset ----------------------------------------------------------------------------- */

int main(void);

/** Paint the stack below the current frame so plat_stack_used() can find the high-water mark. */
static void __attribute__((noinline)) paint_stack(void)
{
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = &__stack_bottom; p < sp - 16; p++) {
        *p = STACK_PAINT;
    }
}

/** The stack's guard (STACK_GUARD): PSPLIM, or an MPU region where the core has one. */
static void guard_stack(void)
{
    const uint32_t floor = (uint32_t)(uintptr_t)stack_floor();
#if STACK_LIMIT_REGISTER
    __asm volatile("msr psplim, %0" : : "r"(floor));
#else
    if ((MPU_TYPE >> 8 & 0xFFu) == 0) {
        return; /* no MPU: the stack's place at the RAM start is the guard */
    }
    MPU_RNR = 0;
    MPU_RBAR = floor - STACK_GUARD;
    MPU_RASR = (1u << 28) | (7u << 1) | 1u; /* XN, no access, 2^(7+1) = 256 bytes, enabled */
    MPU_CTRL = 5u;                          /* enabled, default map for the rest (PRIVDEFENA) */
#endif
    __asm volatile("dsb\nisb");
}

/** Reset: the application runs on the process stack (PSP, the guarded .stack), exceptions on
 * the main stack (MSP, .handler_stack): a fault from an overflow is reported from a stack that
 * still has room. */
__attribute__((naked)) void Reset_Handler(void)
{
    __asm volatile(
        "ldr r0, =__stack_top\n"
        "msr psp, r0\n"
        "movs r0, #2\n"
        "msr control, r0\n"
        "isb\n"
        "b reset_main\n");
}

void __attribute__((noreturn, used)) reset_main(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    SCB_CPACR |= 0xFu << 20;   /* CP10/CP11 full access, before any float code */
    __asm volatile("dsb\nisb");
#endif
    memcpy(&__data_start, &__data_load, (size_t)((char *)&__data_end - (char *)&__data_start));
    memset(&__bss_start, 0, (size_t)((char *)&__bss_end - (char *)&__bss_start));
    paint_stack();
    guard_stack();
    __libc_init_array();
    board_init();
    timer_start();
    main();
    for (;;) {
    }
}

int main(void) { return app_main(); }

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used)) static const vector_t vectors[16] = {
    (vector_t)(uintptr_t)&__handler_stack_top,
    Reset_Handler,
    Default_Handler,     /* NMI */
    HardFault_Handler,
    HardFault_Handler,   /* MemManage */
    HardFault_Handler,   /* BusFault */
    HardFault_Handler,   /* UsageFault */
    HardFault_Handler,   /* SecureFault (Armv8-M) */
    0, 0, 0,
    Default_Handler,     /* SVC */
    Default_Handler,     /* DebugMon */
    0,
    Default_Handler,     /* PendSV */
    SysTick_Handler,
};

/* ---- newlib hooks ---------------------------------------------------------------------- */

/** The C library's own allocations (printf's number conversion) come from the .heap section. */
void *_sbrk(ptrdiff_t incr)
{
    static char *brk = (char *)&__heap_start;
    if (incr < 0 || (size_t)incr > (size_t)((char *)&__heap_end - brk)) {
        errno = ENOMEM;
        return (void *)-1;
    }
    char *old = brk;
    brk += incr;
    return old;
}

void _init(void) {}
void _fini(void) {}
