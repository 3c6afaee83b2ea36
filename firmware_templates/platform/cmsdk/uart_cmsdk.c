/* The CMSDK APB UART of the QEMU MPS2/MPS3 machines (Arm CMSDK technical reference):
 * DATA +0x00, STATE +0x04 (bit 0 TX full, bit 1 RX full), CTRL +0x08, BAUDDIV +0x10.
 * These machines need no clock setup. */
#include <stdint.h>

#include "board.h"
#include "tinyship_config.h"

#define REG(addr) (*(volatile uint32_t *)(addr))
#define UART_DATA REG(TS_UART_BASE + 0x00)
#define UART_STATE REG(TS_UART_BASE + 0x04)
#define UART_CTRL REG(TS_UART_BASE + 0x08)
#define UART_BAUDDIV REG(TS_UART_BASE + 0x10)
#define UART_TX_FULL 1u
#define UART_RX_FULL 2u

void board_init(void)
{
    UART_BAUDDIV = 16;
    UART_CTRL = 3;   /* TX and RX enable */
}

uint32_t board_core_hz(void) { return TS_SYSTICK_HZ; }

int board_try_getc(void) { return UART_STATE & UART_RX_FULL ? (int)(UART_DATA & 0xFF) : -1; }

int board_try_putc(char c)
{
    if (UART_STATE & UART_TX_FULL) {
        return 0;
    }
    UART_DATA = (uint8_t)c;
    return 1;
}
