import { describe, expect, it } from 'vitest';
import { organisationNameAggregate, organisationNameSlug, type OrganisationNameClaimed } from '../../src/modules/identity/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

/** An organisation name is claimed once: the claim stream's first event, refused after. */

const spec = deciderSpec(organisationNameAggregate);
const T0 = Date.UTC(2025, 5, 1);
const claimed: OrganisationNameClaimed = { type: 'OrganisationNameClaimed', data: { slug: 'acme', name: 'acme', organisationId: 'org1', claimedAt: T0 } };

describe('decideOrganisationName', () => {
  it('claims a free name', () => {
    spec.given().when({ type: 'ClaimOrganisationName', name: 'acme', organisationId: 'org1', now: T0 }).then([claimed]);
  });

  it('refuses a taken name with CONFLICT naming the organisation that holds it', () => {
    spec
      .given([claimed])
      .when({ type: 'ClaimOrganisationName', name: 'Acme', organisationId: 'org2', now: T0 + 1 })
      .thenThrows('CONFLICT', 'organisation name "acme" is taken by organisation org1');
  });

  it('treats case, compatibility forms and spacing as the same name', () => {
    expect(organisationNameSlug('  ACME   Corp ')).toBe('acme-corp');
    expect(organisationNameSlug('ａｃｍｅ')).toBe('acme');
    expect(organisationNameSlug('acme\tcorp')).toBe(organisationNameSlug('Acme Corp'));
    expect(organisationNameSlug('acme-corp')).toBe('acme-corp');
  });
});
