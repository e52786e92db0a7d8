import type { UserRole } from '../../types';

/**
 * Product names for the SKUs partners sell most, by `skuPartNumber` (the bot's license id on the Graph directory: it is
 * readable, stable across tenants and has no commas). A SKU not listed here is shown by its part number.
 * Names as in Microsoft's "Product names and service plan identifiers for licensing" reference.
 */
const PRODUCT_NAMES: Record<string, string> = {
  ENTERPRISEPACK: 'Office 365 E3',
  ENTERPRISEPREMIUM: 'Office 365 E5',
  STANDARDPACK: 'Office 365 E1',
  SPE_E3: 'Microsoft 365 E3',
  SPE_E5: 'Microsoft 365 E5',
  SPE_F1: 'Microsoft 365 F3',
  SPB: 'Microsoft 365 Business Premium',
  O365_BUSINESS_PREMIUM: 'Microsoft 365 Business Standard',
  O365_BUSINESS_ESSENTIALS: 'Microsoft 365 Business Basic',
  EXCHANGESTANDARD: 'Exchange Online (Plan 1)',
  EXCHANGEENTERPRISE: 'Exchange Online (Plan 2)',
  POWER_BI_PRO: 'Power BI Pro',
  VISIOCLIENT: 'Visio Plan 2',
  PROJECTPROFESSIONAL: 'Project Plan 3',
  EMS: 'Enterprise Mobility + Security E3',
  Microsoft_Teams_Essentials: 'Microsoft Teams Essentials',
  TEAMS_ESSENTIALS_AAD: 'Microsoft Teams Essentials (Microsoft Entra identity)',
};

export const productName = (skuPartNumber: string): string => PRODUCT_NAMES[skuPartNumber] ?? skuPartNumber;

/** Microsoft Entra built-in role template ids ("Microsoft Entra built-in roles" reference) of the roles the bot gives. */
export const ROLE_TEMPLATES: Record<Exclude<UserRole, 'user'>, string> = {
  'global-admin': '62e90394-69f5-4237-9190-012177145e10',
  'billing-admin': 'b0f54661-2d74-4c50-afa3-1ec803f12efe',
  'user-admin': 'fe930be7-5e62-47db-91af-98c3a49a38b1',
  'password-admin': '966707d0-3269-4727-9be2-8c3a10f19b9d',
  'helpdesk-admin': '729827e3-9c14-49f7-bb1b-9608f156bbb8',
  'service-admin': 'f023fd81-a637-4b56-95fd-791ac0226033',
};

const ROLE_BY_TEMPLATE = new Map(Object.entries(ROLE_TEMPLATES).map(([role, id]) => [id, role as UserRole]));
export const roleOfTemplate = (templateId: string): UserRole | undefined => ROLE_BY_TEMPLATE.get(templateId.toLowerCase());

/** The agent's GDAP roles in a customer that the bot's own agent roles map to (template ids, names for messages). */
export const GDAP_ROLES = {
  userAdministrator: { id: 'fe930be7-5e62-47db-91af-98c3a49a38b1', name: 'User Administrator' },
  licenseAdministrator: { id: '4d6ac14f-3453-41d0-bef9-a3e0c569773a', name: 'License Administrator' },
  helpdeskAdministrator: { id: '729827e3-9c14-49f7-bb1b-9608f156bbb8', name: 'Helpdesk Administrator' },
} as const;
