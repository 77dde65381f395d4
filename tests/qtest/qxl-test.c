/*
 * QTest for the QXL display device: smoke tests of the PCI identity
 * and BARs as the guest sees them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "hw/pci/pci_regs.h"
#include "qemu/units.h"
#include <spice/qxl_dev.h>

#define QXL_VENDOR_ID   0x1b36

typedef struct QXLTestDev {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
} QXLTestDev;

static void qxl_test_start(QXLTestDev *t, const char *args)
{
    t->qts = qtest_initf("-machine pc -nodefaults %s", args);
    t->bus = qpci_new_pc(t->qts, NULL);
    t->dev = qpci_device_find(t->bus, QPCI_DEVFN(2, 0));
    g_assert_nonnull(t->dev);
}

static void qxl_test_stop(QXLTestDev *t)
{
    g_free(t->dev);
    qpci_free_pc(t->bus);
    qtest_quit(t->qts);
}

static void test_pci_identity(gconstpointer data)
{
    const char *driver = data;
    bool vga = g_str_equal(driver, "qxl-vga");
    g_autofree char *args = g_strdup_printf("-device %s,addr=2.0", driver);
    QXLTestDev t;

    qxl_test_start(&t, args);
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_VENDOR_ID), ==, QXL_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_DEVICE_ID), ==, QXL_DEVICE_ID_STABLE);
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_CLASS_DEVICE), ==,
                    vga ? 0x0300 : 0x0380);
    g_assert_cmpint(qpci_config_readb(t.dev, PCI_REVISION_ID), ==, 5);
    g_assert_cmpint(qpci_config_readb(t.dev, PCI_INTERRUPT_PIN), ==, 1);
    qxl_test_stop(&t);
}

/* Size of a memory/IO BAR as the guest probes it: write all ones, read back. */
static uint64_t bar_size(QPCIDevice *dev, int bar)
{
    int reg = PCI_BASE_ADDRESS_0 + bar * 4;
    uint32_t orig = qpci_config_readl(dev, reg);
    uint32_t mask;

    qpci_config_writel(dev, reg, 0xffffffff);
    mask = qpci_config_readl(dev, reg);
    qpci_config_writel(dev, reg, orig);
    if (!mask) {
        return 0;
    }
    mask &= (orig & PCI_BASE_ADDRESS_SPACE_IO) ? PCI_BASE_ADDRESS_IO_MASK
                                               : PCI_BASE_ADDRESS_MEM_MASK;
    if (orig & PCI_BASE_ADDRESS_SPACE_IO) {
        mask |= 0xffff0000;
    }
    return (uint32_t)(~mask + 1);
}

static void test_bar_sizes(void)
{
    QXLTestDev t;

    qxl_test_start(&t, "-device qxl-vga,addr=2.0");
    g_assert_cmphex(bar_size(t.dev, 0), ==, 64 * MiB);  /* RAM */
    g_assert_cmphex(bar_size(t.dev, 1), ==, 64 * MiB);  /* VRAM */
    g_assert_cmphex(bar_size(t.dev, 2), ==, 8 * KiB);   /* ROM */
    g_assert_cmphex(bar_size(t.dev, 3), ==, 32);        /* I/O, revision 5 */
    g_assert_cmphex(bar_size(t.dev, 4), ==, 0);         /* no VRAM64 */
    qxl_test_stop(&t);

    qxl_test_start(&t, "-device qxl-vga,addr=2.0,ram_size_mb=32,"
                   "vram_size_mb=16,vram64_size_mb=128,revision=1");
    g_assert_cmphex(bar_size(t.dev, 0), ==, 32 * MiB);
    g_assert_cmphex(bar_size(t.dev, 3), ==, 8);         /* revision 1 */
    qxl_test_stop(&t);
}

static void test_rom_ram_magic(void)
{
    QXLTestDev t;
    QPCIBar rom, ram;
    uint32_t ram_header_offset;

    qxl_test_start(&t, "-device qxl-vga,addr=2.0");
    qpci_device_enable(t.dev);
    rom = qpci_iomap(t.dev, 2, NULL);
    ram = qpci_iomap(t.dev, 0, NULL);
    g_assert_cmphex(qpci_io_readl(t.dev, rom, 0), ==, QXL_ROM_MAGIC);
    ram_header_offset = qpci_io_readl(t.dev, rom,
                                      offsetof(QXLRom, ram_header_offset));
    g_assert_cmphex(ram_header_offset, ==, 64 * MiB - 8 * KiB);
    g_assert_cmphex(qpci_io_readl(t.dev, ram, ram_header_offset), ==,
                    QXL_RAM_MAGIC);
    qxl_test_stop(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_data_func("/qxl/pci-identity/qxl-vga", "qxl-vga",
                        test_pci_identity);
    qtest_add_data_func("/qxl/pci-identity/qxl", "qxl", test_pci_identity);
    qtest_add_func("/qxl/bar-sizes", test_bar_sizes);
    qtest_add_func("/qxl/rom-ram-magic", test_rom_ram_magic);

    return g_test_run();
}
