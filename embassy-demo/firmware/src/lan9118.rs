//! `embassy-net` driver for the SMSC LAN9118 Ethernet controller (32-bit
//! bus mode), as wired on the Arm MPS2 boards and emulated by QEMU's
//! `mps2-an386` at 0x4020_0000, IRQ 13.
//!
//! The chip has no DMA: frames go through on-chip FIFOs read and written
//! one 32-bit word at a time ("PIO"). Receive is interrupt driven (the RX
//! status FIFO level interrupt wakes the network task, see [`on_interrupt`]);
//! transmit is synchronous, since a frame fits the 4.5 KiB TX data FIFO.
//!
//! Register names and bits follow the SMSC LAN9118 datasheet (rev. 1.5),
//! section 5 ("System Control and Status Registers") and 5.4 ("MAC Control
//! and Status Registers", reached indirectly through `MAC_CSR_CMD`/`DATA`).
//!
//! QEMU's model differs from the silicon in ways this driver allows for:
//! receive needs `MAC_CR.RXEN` (as on silicon; some drivers forget it and
//! QEMU drops everything), transmit ignores `TX_CFG.TX_ON`, an RX status
//! length counts the 4-byte FCS (as on silicon), and the interrupt line only
//! behaves with `IRQ_CFG` = enable | active-high | push-pull (0x111).
//!
//! `unsafe`: only in [`regs`], which turns the fixed MMIO address into a
//! reference to a block of `VolatileCell`s. Every access after that is a
//! safe volatile read or write.

use core::mem::offset_of;
use core::task::Context;

use embassy_net_driver::{Capabilities, HardwareAddress, LinkState};
use embassy_sync::waitqueue::AtomicWaker;
use embassy_time::{Duration, Instant};
use vcell::VolatileCell;

/// Physical base address of the LAN9118 on the MPS2 boards.
pub const BASE: usize = 0x4020_0000;
/// NVIC line of the LAN9118 interrupt on the MPS2 AN385/AN386 images.
pub const IRQ: u16 = 13;
/// QEMU's default MAC (`-nic user` without `mac=`), used when the chip's
/// EEPROM gave none.
pub const DEFAULT_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// Largest Ethernet frame without FCS (1500 MTU + 14-byte header).
pub const MAX_FRAME: usize = 1514;
/// Frame buffer size: `MAX_FRAME` + FCS, rounded up to whole FIFO words.
const BUF_LEN: usize = 1520;

// ---------------------------------------------------------------------------
// System control and status registers (byte offsets from `BASE`).
// ---------------------------------------------------------------------------

/// RX Data FIFO port (0x00-0x1C are aliases): pops one word of the frame
/// whose status was last read from `RX_STATUS_FIFO`.
pub const RX_DATA_FIFO: usize = 0x00;
/// TX Data FIFO port (0x20-0x3C are aliases): pushes TX command A, command B,
/// then the frame's data words.
pub const TX_DATA_FIFO: usize = 0x20;
/// RX Status FIFO port: pops one status word per received frame.
pub const RX_STATUS_FIFO: usize = 0x40;
/// RX Status FIFO peek (read without popping).
pub const RX_STATUS_FIFO_PEEK: usize = 0x44;
/// TX Status FIFO port: pops one status word per transmitted frame.
pub const TX_STATUS_FIFO: usize = 0x48;
/// TX Status FIFO peek.
pub const TX_STATUS_FIFO_PEEK: usize = 0x4C;
/// Chip ID (bits 31:16, 0x0118) and revision (bits 15:0).
pub const ID_REV: usize = 0x50;
/// Interrupt pin configuration: enable, polarity, buffer type.
pub const IRQ_CFG: usize = 0x54;
/// Interrupt status; write 1 to a bit to clear it.
pub const INT_STS: usize = 0x58;
/// Interrupt enable mask, same bit layout as `INT_STS`.
pub const INT_EN: usize = 0x5C;
/// Byte order test: always reads 0x8765_4321 on a correctly wired bus.
pub const BYTE_TEST: usize = 0x64;
/// FIFO level interrupt thresholds.
pub const FIFO_INT: usize = 0x68;
/// Receive configuration: end alignment, data offset, RX_DUMP.
pub const RX_CFG: usize = 0x6C;
/// Transmit configuration: TX_ON, TXSAO, dumps.
pub const TX_CFG: usize = 0x70;
/// Hardware configuration: soft reset, TX FIFO size.
pub const HW_CFG: usize = 0x74;
/// RX datapath control: RX_FFWD (discard the current frame).
pub const RX_DP_CTRL: usize = 0x78;
/// RX FIFO information: status words used (23:16), data bytes used (15:0).
pub const RX_FIFO_INF: usize = 0x7C;
/// TX FIFO information: status words used (23:16), data bytes free (15:0).
pub const TX_FIFO_INF: usize = 0x80;
/// Power management control; bit 0 READY says the chip left reset.
pub const PMT_CTRL: usize = 0x84;
/// Free-running 25 MHz counter (used as entropy for the TCP seed).
pub const FREE_RUN: usize = 0x9C;
/// MAC CSR command: busy, read/write, index of the MAC register.
pub const MAC_CSR_CMD: usize = 0xA4;
/// MAC CSR data: the value read from / to write to the MAC register.
pub const MAC_CSR_DATA: usize = 0xA8;
/// Automatic flow control configuration.
pub const AFC_CFG: usize = 0xAC;

// Bits of the registers above.

/// `IRQ_CFG`: drive the IRQ pin.
pub const IRQ_CFG_IRQ_EN: u32 = 1 << 8;
/// `IRQ_CFG`: IRQ active high.
pub const IRQ_CFG_IRQ_POL: u32 = 1 << 4;
/// `IRQ_CFG`: push-pull output (QEMU needs it with IRQ_POL, see module doc).
pub const IRQ_CFG_IRQ_TYPE: u32 = 1 << 0;
/// `INT_STS`/`INT_EN`: RX status FIFO level above `FIFO_INT[7:0]`.
pub const INT_RSFL: u32 = 1 << 3;
/// `FIFO_INT`: default TX data available level (0x48 = 72 * 64 bytes) and
/// RX status level 0, so one received frame raises `INT_RSFL`.
pub const FIFO_INT_DEFAULT: u32 = 0x4800_0000;
/// `HW_CFG`: soft reset, self clearing.
pub const HW_CFG_SRST: u32 = 1 << 0;
/// `HW_CFG`: must be written as one.
pub const HW_CFG_MBO: u32 = 1 << 20;
/// `HW_CFG`: TX FIFO size 5 KiB (bits 19:16; TX data 4608 B + status).
pub const HW_CFG_TX_FIF_SZ_5K: u32 = 5 << 16;
/// `TX_CFG`: transmitter on (silicon needs it; QEMU ignores it).
pub const TX_CFG_TX_ON: u32 = 1 << 1;
/// `TX_CFG`: TX status allowed to overrun, so it need not be drained.
pub const TX_CFG_TXSAO: u32 = 1 << 2;
/// `PMT_CTRL`: device ready.
pub const PMT_CTRL_READY: u32 = 1 << 0;
/// `MAC_CSR_CMD`: command busy / start.
pub const MAC_CSR_BUSY: u32 = 1 << 31;
/// `MAC_CSR_CMD`: 1 = read, 0 = write.
pub const MAC_CSR_READ: u32 = 1 << 30;
/// RX status: frame length including the 4-byte FCS (bits 29:16).
pub const RX_STS_LEN_SHIFT: u32 = 16;
/// RX status: length mask after the shift.
pub const RX_STS_LEN_MASK: u32 = 0x3FFF;
/// RX status: error summary (CRC, length, collision, runt, too long).
pub const RX_STS_ES: u32 = 1 << 15;
/// TX command A: first segment of a frame.
pub const TX_CMD_A_FIRST_SEG: u32 = 1 << 13;
/// TX command A: last segment of a frame.
pub const TX_CMD_A_LAST_SEG: u32 = 1 << 12;
/// Ethernet FCS length, counted by RX status lengths.
pub const FCS_LEN: usize = 4;

// ---------------------------------------------------------------------------
// MAC control and status registers (indices for `MAC_CSR_CMD[7:0]`).
// ---------------------------------------------------------------------------

/// MAC control register.
pub const MAC_CR: u32 = 1;
/// MAC address bytes 4-5.
pub const MAC_ADDRH: u32 = 2;
/// MAC address bytes 0-3.
pub const MAC_ADDRL: u32 = 3;
/// MII (PHY management) access: PHY address, register, write, busy.
pub const MAC_MII_ACC: u32 = 6;
/// MII data.
pub const MAC_MII_DATA: u32 = 7;

/// `MAC_CR`: full duplex.
pub const MAC_CR_FDPX: u32 = 1 << 20;
/// `MAC_CR`: transmitter enable.
pub const MAC_CR_TXEN: u32 = 1 << 3;
/// `MAC_CR`: receiver enable (QEMU drops every frame without it).
pub const MAC_CR_RXEN: u32 = 1 << 2;
/// `MII_ACC`: busy.
pub const MII_ACC_BUSY: u32 = 1 << 0;
/// `MII_ACC`: 1 = write.
pub const MII_ACC_WRITE: u32 = 1 << 1;
/// The internal PHY's MII address.
pub const PHY_ADDR: u32 = 1;

// PHY registers (IEEE 802.3 clause 22).

/// PHY basic control register.
pub const PHY_BCR: u32 = 0;
/// PHY basic status register.
pub const PHY_BSR: u32 = 1;
/// PHY auto-negotiation advertisement register.
pub const PHY_ANAR: u32 = 4;
/// `BCR`: auto-negotiation enable.
pub const PHY_BCR_ANENABLE: u32 = 1 << 12;
/// `BCR`: restart auto-negotiation.
pub const PHY_BCR_ANRESTART: u32 = 1 << 9;
/// `ANAR`: 10/100, half/full, IEEE 802.3 selector.
pub const PHY_ANAR_ALL: u32 = 0x01E1;
/// `BSR`: link up.
pub const PHY_BSR_LINK: u32 = 1 << 2;

/// Polls of a busy bit before a register access counts as hung.
const BUSY_SPINS: u32 = 100_000;
/// How often `link_state` asks the PHY (MII reads are slow on silicon).
const LINK_POLL: Duration = Duration::from_millis(500);

/// The controller's register window, word by word. Every field is a
/// `VolatileCell`, so every access compiles to exactly one volatile load or
/// store; the offsets are checked against the constants above at compile time.
#[repr(C)]
struct Registers {
    rx_data_fifo: [VolatileCell<u32>; 8],
    tx_data_fifo: [VolatileCell<u32>; 8],
    rx_status_fifo: VolatileCell<u32>,
    rx_status_fifo_peek: VolatileCell<u32>,
    tx_status_fifo: VolatileCell<u32>,
    tx_status_fifo_peek: VolatileCell<u32>,
    id_rev: VolatileCell<u32>,
    irq_cfg: VolatileCell<u32>,
    int_sts: VolatileCell<u32>,
    int_en: VolatileCell<u32>,
    _reserved_60: VolatileCell<u32>,
    byte_test: VolatileCell<u32>,
    fifo_int: VolatileCell<u32>,
    rx_cfg: VolatileCell<u32>,
    tx_cfg: VolatileCell<u32>,
    hw_cfg: VolatileCell<u32>,
    rx_dp_ctrl: VolatileCell<u32>,
    rx_fifo_inf: VolatileCell<u32>,
    tx_fifo_inf: VolatileCell<u32>,
    pmt_ctrl: VolatileCell<u32>,
    /// GPIO_CFG, GPT_CFG, GPT_CNT, reserved, WORD_SWAP (0x88-0x98): unused.
    _gpio_to_word_swap: [VolatileCell<u32>; 5],
    free_run: VolatileCell<u32>,
    _rx_drop: VolatileCell<u32>,
    mac_csr_cmd: VolatileCell<u32>,
    mac_csr_data: VolatileCell<u32>,
    afc_cfg: VolatileCell<u32>,
}

const _: () = {
    assert!(offset_of!(Registers, rx_data_fifo) == RX_DATA_FIFO);
    assert!(offset_of!(Registers, tx_data_fifo) == TX_DATA_FIFO);
    assert!(offset_of!(Registers, rx_status_fifo) == RX_STATUS_FIFO);
    assert!(offset_of!(Registers, rx_status_fifo_peek) == RX_STATUS_FIFO_PEEK);
    assert!(offset_of!(Registers, tx_status_fifo) == TX_STATUS_FIFO);
    assert!(offset_of!(Registers, tx_status_fifo_peek) == TX_STATUS_FIFO_PEEK);
    assert!(offset_of!(Registers, id_rev) == ID_REV);
    assert!(offset_of!(Registers, irq_cfg) == IRQ_CFG);
    assert!(offset_of!(Registers, int_sts) == INT_STS);
    assert!(offset_of!(Registers, int_en) == INT_EN);
    assert!(offset_of!(Registers, byte_test) == BYTE_TEST);
    assert!(offset_of!(Registers, fifo_int) == FIFO_INT);
    assert!(offset_of!(Registers, rx_cfg) == RX_CFG);
    assert!(offset_of!(Registers, tx_cfg) == TX_CFG);
    assert!(offset_of!(Registers, hw_cfg) == HW_CFG);
    assert!(offset_of!(Registers, rx_dp_ctrl) == RX_DP_CTRL);
    assert!(offset_of!(Registers, rx_fifo_inf) == RX_FIFO_INF);
    assert!(offset_of!(Registers, tx_fifo_inf) == TX_FIFO_INF);
    assert!(offset_of!(Registers, pmt_ctrl) == PMT_CTRL);
    assert!(offset_of!(Registers, free_run) == FREE_RUN);
    assert!(offset_of!(Registers, mac_csr_cmd) == MAC_CSR_CMD);
    assert!(offset_of!(Registers, mac_csr_data) == MAC_CSR_DATA);
    assert!(offset_of!(Registers, afc_cfg) == AFC_CFG);
};

/// The register block at [`BASE`].
#[allow(unsafe_code)]
fn regs() -> &'static Registers {
    // SAFETY: BASE is the LAN9118's 256-byte MMIO window on the MPS2 boards
    // (QEMU maps it there for `mps2-an386`); `Registers` is `repr(C)`, exactly
    // that window's layout (checked above), and made of `VolatileCell`s, so
    // the shared reference only ever produces volatile accesses and never
    // lets Rust assume the memory is plain RAM. Nothing else in the program
    // maps or aliases this address range.
    unsafe { &*(BASE as *const Registers) }
}

/// Why the controller could not be brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, defmt::Format)]
pub enum InitError {
    /// `BYTE_TEST` did not read 0x8765_4321: no LAN9118 here, or a bus
    /// configured for the wrong width/endianness.
    NoChip(u32),
    /// A busy bit (soft reset, MAC CSR, MII) never cleared.
    Timeout(&'static str),
}

/// Woken by [`on_interrupt`] when a frame arrives.
static RX_WAKER: AtomicWaker = AtomicWaker::new();

/// The interrupt handler's work: acknowledge the controller's interrupt
/// (the line is level triggered) and wake the network task.
pub fn on_interrupt() {
    let r = regs();
    let pending = r.int_sts.get() & r.int_en.get();
    r.int_sts.set(pending);
    RX_WAKER.wake();
}

/// Spins until `done()` or the spin budget runs out.
fn wait(what: &'static str, mut done: impl FnMut() -> bool) -> Result<(), InitError> {
    for _ in 0..BUSY_SPINS {
        if done() {
            return Ok(());
        }
    }
    Err(InitError::Timeout(what))
}

fn mac_read(reg: u32) -> Result<u32, InitError> {
    let r = regs();
    wait("MAC CSR", || r.mac_csr_cmd.get() & MAC_CSR_BUSY == 0)?;
    r.mac_csr_cmd.set(MAC_CSR_BUSY | MAC_CSR_READ | reg);
    wait("MAC CSR", || r.mac_csr_cmd.get() & MAC_CSR_BUSY == 0)?;
    Ok(r.mac_csr_data.get())
}

fn mac_write(reg: u32, value: u32) -> Result<(), InitError> {
    let r = regs();
    wait("MAC CSR", || r.mac_csr_cmd.get() & MAC_CSR_BUSY == 0)?;
    r.mac_csr_data.set(value);
    r.mac_csr_cmd.set(MAC_CSR_BUSY | reg);
    wait("MAC CSR", || r.mac_csr_cmd.get() & MAC_CSR_BUSY == 0)
}

fn mii_idle() -> Result<(), InitError> {
    for _ in 0..BUSY_SPINS {
        if mac_read(MAC_MII_ACC)? & MII_ACC_BUSY == 0 {
            return Ok(());
        }
    }
    Err(InitError::Timeout("MII"))
}

fn phy_read(reg: u32) -> Result<u32, InitError> {
    mii_idle()?;
    mac_write(MAC_MII_ACC, (PHY_ADDR << 11) | (reg << 6) | MII_ACC_BUSY)?;
    mii_idle()?;
    Ok(mac_read(MAC_MII_DATA)? & 0xFFFF)
}

fn phy_write(reg: u32, value: u32) -> Result<(), InitError> {
    mii_idle()?;
    mac_write(MAC_MII_DATA, value)?;
    mac_write(
        MAC_MII_ACC,
        (PHY_ADDR << 11) | (reg << 6) | MII_ACC_WRITE | MII_ACC_BUSY,
    )?;
    mii_idle()
}

/// Asks to be polled again on the next timer tick (a full TX FIFO drains
/// within a frame time; no interrupt is armed for it).
fn retry_soon(cx: &Context) {
    embassy_time_driver::schedule_wake(Instant::now().as_ticks() + 1, cx.waker());
}

/// The LAN9118 as an `embassy_net_driver::Driver`.
#[derive(Debug)]
pub struct Lan9118 {
    mac: [u8; 6],
    rx_buf: [u8; BUF_LEN],
    tx_buf: [u8; BUF_LEN],
    link_up: bool,
    link_checked: Option<Instant>,
    /// Frames dropped because of receive errors or bad lengths.
    pub rx_errors: u32,
}

impl Lan9118 {
    /// Resets and configures the controller: MAC address (from the chip's
    /// EEPROM, else [`DEFAULT_MAC`]), PHY auto-negotiation, receiver and
    /// transmitter on, RX interrupt armed on the chip. The caller unmasks
    /// [`IRQ`] in the NVIC.
    pub fn new() -> Result<Self, InitError> {
        let r = regs();
        let test = r.byte_test.get();
        if test != 0x8765_4321 {
            return Err(InitError::NoChip(test));
        }
        r.hw_cfg.set(HW_CFG_SRST);
        wait("soft reset", || r.hw_cfg.get() & HW_CFG_SRST == 0)?;
        wait("PMT ready", || r.pmt_ctrl.get() & PMT_CTRL_READY != 0)?;
        r.hw_cfg.set(HW_CFG_MBO | HW_CFG_TX_FIF_SZ_5K);

        // The MAC address the EEPROM loaded, if any.
        let low = mac_read(MAC_ADDRL)?.to_le_bytes();
        let high = mac_read(MAC_ADDRH)?.to_le_bytes();
        let mut mac = [low[0], low[1], low[2], low[3], high[0], high[1]];
        if mac == [0; 6] || mac == [0xFF; 6] {
            mac = DEFAULT_MAC;
            mac_write(
                MAC_ADDRL,
                u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]),
            )?;
            mac_write(MAC_ADDRH, u32::from_le_bytes([mac[4], mac[5], 0, 0]))?;
        }

        phy_write(PHY_ANAR, PHY_ANAR_ALL)?;
        phy_write(PHY_BCR, PHY_BCR_ANENABLE | PHY_BCR_ANRESTART)?;

        // 4-byte end alignment, no data offset: a frame is whole words.
        r.rx_cfg.set(0);
        r.tx_cfg.set(TX_CFG_TX_ON | TX_CFG_TXSAO);
        r.fifo_int.set(FIFO_INT_DEFAULT);
        // Exact MAC + broadcast filtering (reset leaves it promiscuous).
        mac_write(MAC_CR, MAC_CR_FDPX | MAC_CR_TXEN | MAC_CR_RXEN)?;

        r.int_sts.set(u32::MAX);
        r.int_en.set(INT_RSFL);
        r.irq_cfg
            .set(IRQ_CFG_IRQ_EN | IRQ_CFG_IRQ_POL | IRQ_CFG_IRQ_TYPE);

        Ok(Self {
            mac,
            rx_buf: [0; BUF_LEN],
            tx_buf: [0; BUF_LEN],
            link_up: false,
            link_checked: None,
            rx_errors: 0,
        })
    }

    /// The MAC address in use.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// A few bits of timing entropy (the free-running counter and chip ID),
    /// for the TCP initial sequence number seed.
    pub fn entropy(&self) -> u64 {
        let r = regs();
        (u64::from(r.free_run.get()) << 32) ^ u64::from(r.id_rev.get())
    }

    /// Pops the next good frame into `rx_buf`; returns its length without
    /// FCS. Bad frames are read out and dropped (never fast-forwarded:
    /// QEMU's RX_FFWD loses track of the FIFO level).
    fn pop_frame(&mut self) -> Option<usize> {
        let r = regs();
        while (r.rx_fifo_inf.get() >> 16) & 0xFF != 0 {
            let status = r.rx_status_fifo.get();
            let len = ((status >> RX_STS_LEN_SHIFT) & RX_STS_LEN_MASK) as usize;
            let words = len.div_ceil(4);
            let good = status & RX_STS_ES == 0 && (14 + FCS_LEN..=BUF_LEN).contains(&len);
            if !good {
                for _ in 0..words {
                    let _ = r.rx_data_fifo[0].get();
                }
                self.rx_errors = self.rx_errors.wrapping_add(1);
                continue;
            }
            for chunk in self.rx_buf[..words * 4].chunks_exact_mut(4) {
                chunk.copy_from_slice(&r.rx_data_fifo[0].get().to_le_bytes());
            }
            return Some(len - FCS_LEN);
        }
        None
    }

    /// Space in the TX data FIFO, in bytes.
    fn tx_free() -> usize {
        (regs().tx_fifo_inf.get() & 0xFFFF) as usize
    }
}

/// A received frame, already copied out of the RX FIFO.
#[derive(Debug)]
pub struct RxToken<'a> {
    frame: &'a mut [u8],
}

impl embassy_net_driver::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

/// Room for one frame; `consume` pushes it into the TX FIFO.
#[derive(Debug)]
pub struct TxToken<'a> {
    buf: &'a mut [u8; BUF_LEN],
}

impl embassy_net_driver::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        // smoltcp never asks for more than the MTU we advertise; clamp anyway
        // rather than index out of bounds.
        let len = len.min(MAX_FRAME);
        let result = f(&mut self.buf[..len]);
        let r = regs();
        let len32 = u32::try_from(len).unwrap_or(0); // <= MAX_FRAME
        r.tx_data_fifo[0].set(TX_CMD_A_FIRST_SEG | TX_CMD_A_LAST_SEG | len32);
        r.tx_data_fifo[0].set((len32 << 16) | len32); // tag = length
        for chunk in self.buf[..len].chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            r.tx_data_fifo[0].set(u32::from_le_bytes(word));
        }
        result
    }
}

impl embassy_net_driver::Driver for Lan9118 {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, cx: &mut Context) -> Option<(RxToken<'_>, TxToken<'_>)> {
        // Register before looking, so a frame arriving in between still
        // wakes us through the interrupt.
        RX_WAKER.register(cx.waker());
        if Self::tx_free() < BUF_LEN + 8 {
            retry_soon(cx);
            return None;
        }
        let len = self.pop_frame()?;
        Some((
            RxToken {
                frame: &mut self.rx_buf[..len],
            },
            TxToken {
                buf: &mut self.tx_buf,
            },
        ))
    }

    fn transmit(&mut self, cx: &mut Context) -> Option<TxToken<'_>> {
        // A frame plus its two command words must fit. QEMU sends each frame
        // as soon as its last word is written, so the FIFO never stays full
        // there; on silicon a full FIFO drains within a frame time.
        if Self::tx_free() < BUF_LEN + 8 {
            retry_soon(cx);
            return None;
        }
        Some(TxToken {
            buf: &mut self.tx_buf,
        })
    }

    fn link_state(&mut self, cx: &mut Context) -> LinkState {
        let now = Instant::now();
        let due = self
            .link_checked
            .is_none_or(|at| now.saturating_duration_since(at) >= LINK_POLL);
        if due {
            self.link_checked = Some(now);
            self.link_up = phy_read(PHY_BSR).is_ok_and(|bsr| bsr & PHY_BSR_LINK != 0);
        }
        if self.link_up {
            LinkState::Up
        } else {
            // No interrupt announces link up: look again after LINK_POLL.
            embassy_time_driver::schedule_wake((now + LINK_POLL).as_ticks(), cx.waker());
            LinkState::Down
        }
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MAX_FRAME;
        caps.max_burst_size = Some(4);
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac)
    }
}
