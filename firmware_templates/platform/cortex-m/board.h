/* What the Cortex-M core (platform_cortex_m.c) needs from the board's peripheral file:
 * uart_cmsdk.c on the QEMU MPS2/MPS3 machines, board_stm32.c on STM32 boards. */
#ifndef TINYSHIP_BOARD_H
#define TINYSHIP_BOARD_H

#include <stdint.h>

/** Clocks, then the serial port; called from reset before any output. */
void board_init(void);
/** The core clock after board_init(), in Hz (the rate of DWT CYCCNT). */
uint32_t board_core_hz(void);
/** The received byte, or -1 if none is waiting. */
int board_try_getc(void);
/** Send @p c if the transmitter has room: 1 if sent, 0 if it is busy. */
int board_try_putc(char c);

#endif
