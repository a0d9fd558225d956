/** Ready formulas from the research (Green Grid definitions); indicator names are the ones to create. */
export const examples = [
  {
    id: 'pue',
    formula: 'facility_power / it_power',
    unit: '',
    description: 'Power Usage Effectiveness: total facility power over IT equipment power (1.0 is ideal)',
  },
  {
    id: 'dcie',
    formula: 'it_power / facility_power * 100',
    unit: '%',
    description: 'Data Center infrastructure Efficiency: IT power over facility power, in percent (= 100 / PUE)',
  },
  {
    id: 'cade',
    formula: 'facility_energy_efficiency * facility_utilization * it_energy_efficiency * it_utilization * 100',
    unit: '%',
    description:
      'Corporate Average Data center Efficiency = FE × ITAE, with facility efficiency FE = facility energy efficiency (DCiE as a fraction) × facility utilization, and IT asset efficiency ITAE = IT energy efficiency × IT utilization (all fractions 0..1)',
  },
  {
    id: 'network_load_15m',
    formula: 'mean(network_load, "15m")',
    unit: 'bit/s',
    description: 'mean network load over the last 15 minutes, from the store',
  },
] as const;
