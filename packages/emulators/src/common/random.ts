/**
 * Seeded pseudo-random numbers (mulberry32) so that every emulator generates the same data for the same
 * seed: tests can regenerate the "source of truth" and compare it with the warehouse.
 */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, maxInclusive: number): number {
    return min + Math.floor(this.next() * (maxInclusive - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
  bool(probability = 0.5): boolean {
    return this.next() < probability;
  }
  /** A v4-shaped UUID drawn from this generator (deterministic for a seed). */
  uuid(): string {
    const hex = Array.from({ length: 32 }, () => Math.floor(this.next() * 16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[this.int(0, 3)]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }
}

export const FIRST_NAMES = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Radia', 'Linus', 'Margaret', 'Tim', 'Sophie', 'Jean', 'Hedy', 'Dennis'] as const;
export const LAST_NAMES = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Perlman', 'Torvalds', 'Hamilton', 'Berners-Lee', 'Wilson', 'Sammet', 'Lamarr', 'Ritchie'] as const;
export const CITIES = [
  { city: 'Berlin', country: 'DE', postalCode: '10115' },
  { city: 'Munich', country: 'DE', postalCode: '80331' },
  { city: 'Amsterdam', country: 'NL', postalCode: '1012' },
  { city: 'Paris', country: 'FR', postalCode: '75001' },
  { city: 'Austin', country: 'US', postalCode: '78701' },
  { city: 'Seattle', country: 'US', postalCode: '98101' },
  { city: 'Sydney', country: 'AU', postalCode: '2000' },
] as const;
export const PRODUCTS = [
  { sku: 'TSHIRT-BLK-M', name: 'Black T-Shirt (M)', cents: 1999 },
  { sku: 'HOODIE-GRY-L', name: 'Grey Hoodie (L)', cents: 4999 },
  { sku: 'MUG-WHT', name: 'White Mug', cents: 1299 },
  { sku: 'CAP-NVY', name: 'Navy Cap', cents: 2499 },
  { sku: 'SOCKS-3PK', name: 'Socks (3 pack)', cents: 1499 },
  { sku: 'TOTE-NAT', name: 'Canvas Tote', cents: 1799 },
  { sku: 'STICKER-SET', name: 'Sticker Set', cents: 599 },
  { sku: 'POSTER-A2', name: 'Poster A2', cents: 2199 },
] as const;
