//! Measuring generation: the statistics a benchmark reports ([`stats`]: percentiles, spreads
//! over rounds, A/B ratios with bootstrap intervals) and the energy of a measured window
//! ([`energy`]: the [`EnergyCounter`](energy::EnergyCounter) seam and its arithmetic), and A/B
//! comparisons of two configurations over alternating rounds ([`ab`]).

pub mod ab;
pub mod energy;
pub mod stats;
